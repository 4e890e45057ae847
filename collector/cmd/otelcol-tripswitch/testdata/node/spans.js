// Sends 40 "GET /pay" server spans of 400–439 ms and one unrelated span
// over OTLP/HTTP to the Collector at OTLP_TRACES_URL, then exits.
'use strict';

const { SpanKind } = require('@opentelemetry/api');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');

async function main() {
  const exporter = new OTLPTraceExporter({ url: process.env.OTLP_TRACES_URL });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout-node' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('checkout-node');
  const end = Date.now();
  for (let i = 0; i < 40; i++) {
    const span = tracer.startSpan('GET /pay', {
      kind: SpanKind.SERVER,
      startTime: new Date(end - 400 - i),
      attributes: { 'http.route': '/pay', 'http.response.status_code': 200 },
    });
    span.end(new Date(end));
  }
  tracer.startSpan('GET /health', { kind: SpanKind.SERVER }).end();
  await provider.shutdown(); // exports everything
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
