package localserver

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// Ingest limits.
const (
	maxIngestCompressed   = 5 << 20  // bytes of a request body as sent
	maxIngestDecompressed = 50 << 20 // bytes of the JSON document
	ingestWindow          = 5 * time.Minute
)

// Sample is one accepted sample, as it arrived.
type Sample struct {
	RouterID string            `json:"router_id"`
	Metric   string            `json:"metric"`
	TsMs     int64             `json:"ts_ms"`
	Value    float64           `json:"value"`
	OK       bool              `json:"ok"`
	Tags     map[string]string `json:"tags,omitempty"`
	TraceID  string            `json:"trace_id,omitempty"`
}

// ingestInput is everything decodeIngest needs from a request.
type ingestInput struct {
	Body       []byte // as sent (gzip)
	Encoding   string // Content-Encoding
	Timestamp  string // X-EB-Timestamp
	Signature  string // X-EB-Signature
	Secret     []byte // raw ingest secret
	RequireSig bool
	Now        time.Time
}

var (
	gzipReaders sync.Pool
	bufPool     = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// decodeIngest checks and decodes an ingest body in the order of the
// contract: decompressed size (413), signature and timestamp (401), gzip and
// JSON (400), then each sample (400). It never panics on any input.
func decodeIngest(in ingestInput) ([]Sample, *apiError) {
	gz, aerr := isGzip(in.Encoding, in.Body)
	if aerr != nil {
		return nil, aerr
	}
	var sigErr *apiError
	if in.RequireSig {
		sigErr = verifySignature(in)
	}
	if sigErr != nil {
		// Report an oversized body first, as the contract orders, without
		// keeping the unauthenticated document in memory.
		if gz {
			if n, _ := gunzipTo(io.Discard, in.Body); n > maxIngestDecompressed {
				return nil, tooLarge()
			}
		}
		return nil, sigErr
	}
	doc := in.Body
	if gz {
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer func() {
			if buf.Cap() <= 4<<20 {
				bufPool.Put(buf)
			}
		}()
		n, err := gunzipTo(buf, in.Body)
		if n > maxIngestDecompressed {
			return nil, tooLarge()
		}
		if err != nil {
			return nil, errf(http.StatusBadRequest, codeInvalidGzip, "body is not valid gzip: %s", gzipProblem(err))
		}
		doc = buf.Bytes()
	} else if len(doc) > maxIngestDecompressed {
		return nil, tooLarge()
	}
	return parseBatch(doc)
}

func tooLarge() *apiError {
	return errf(http.StatusRequestEntityTooLarge, codePayloadTooLarge,
		"body exceeds %d MiB compressed or %d MiB decompressed", maxIngestCompressed>>20, maxIngestDecompressed>>20)
}

// isGzip decides how the body is encoded: gzip when Content-Encoding says
// so, or when it is absent and the body starts with the gzip magic number.
func isGzip(encoding string, body []byte) (bool, *apiError) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip":
		return true, nil
	case "", "identity":
		return len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b, nil
	}
	return false, errf(http.StatusUnsupportedMediaType, codeUnsupportedEncoding, "Content-Encoding %q is not supported; send gzip", truncate(encoding, 40))
}

// gunzipTo decompresses src into dst, stopping after maxIngestDecompressed+1
// bytes; it returns how many bytes it wrote.
func gunzipTo(dst io.Writer, src []byte) (int64, error) {
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = zr.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return 0, err
	}
	defer gzipReaders.Put(zr)
	n, err := io.Copy(dst, io.LimitReader(zr, maxIngestDecompressed+1))
	if err == nil && n <= maxIngestDecompressed {
		err = zr.Close()
	}
	return n, err
}

func gzipProblem(err error) string {
	switch {
	case errors.Is(err, gzip.ErrHeader):
		return "bad header"
	case errors.Is(err, gzip.ErrChecksum):
		return "checksum mismatch"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated"
	}
	return "corrupt data"
}

// verifySignature checks X-EB-Timestamp (within ±5 minutes of Now) and
// X-EB-Signature ("v1=" + hex HMAC-SHA256 of "{ts}." + body) in constant
// time. Messages never echo the signature.
func verifySignature(in ingestInput) *apiError {
	unauth := func(msg string) *apiError { return errf(http.StatusUnauthorized, codeUnauthorized, "%s", msg) }
	if in.Timestamp == "" {
		return unauth("missing X-EB-Timestamp header")
	}
	if in.Signature == "" {
		return unauth("missing X-EB-Signature header")
	}
	if len(in.Timestamp) > 20 {
		return unauth("X-EB-Timestamp must be Unix milliseconds")
	}
	ts, err := strconv.ParseInt(in.Timestamp, 10, 64)
	if err != nil || ts < 0 {
		return unauth("X-EB-Timestamp must be Unix milliseconds")
	}
	if d := in.Now.UnixMilli() - ts; d > ingestWindow.Milliseconds() || d < -ingestWindow.Milliseconds() {
		return unauth("X-EB-Timestamp is more than 5 minutes from the server's time")
	}
	mac := hmac.New(sha256.New, in.Secret)
	mac.Write([]byte(in.Timestamp))
	mac.Write([]byte{'.'})
	mac.Write(in.Body)
	want := mac.Sum(nil)
	ok := false
	if len(in.Signature) <= 1024 {
		for _, part := range strings.FieldsFunc(in.Signature, func(r rune) bool { return r == ',' || r == ' ' }) {
			v, found := strings.CutPrefix(part, "v1=")
			if !found || len(v) != 2*sha256.Size {
				continue
			}
			got, err := hex.DecodeString(v)
			if err == nil && hmac.Equal(got, want) {
				ok = true
			}
		}
	}
	if !ok {
		return unauth("invalid X-EB-Signature for this project's ingest secret")
	}
	return nil
}

// parseBatch decodes {"samples": […]} and validates every sample.
func parseBatch(doc []byte) ([]Sample, *apiError) {
	samples, err := decodeBatch(doc)
	if err != nil {
		return nil, err
	}
	for i := range samples {
		if err := checkSample(i, &samples[i]); err != nil {
			return nil, err
		}
	}
	return samples, nil
}

func sampleErr(i int, field, msg string) *apiError {
	f := "samples[" + strconv.Itoa(i) + "]." + field
	return &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Field: f, Message: f + ": " + msg}
}

// checkSample validates the fields of sample i other than its tags, which
// the decoder checks.
func checkSample(i int, s *Sample) *apiError {
	if s.RouterID == "" {
		return sampleErr(i, "router_id", "is required")
	}
	if m := checkSampleText(s.RouterID, maxIDLen); m != "" {
		return sampleErr(i, "router_id", m)
	}
	if s.Metric == "" {
		return sampleErr(i, "metric", "is required")
	}
	if m := checkSampleText(s.Metric, maxMetricLen); m != "" {
		return sampleErr(i, "metric", m)
	}
	if m := checkSampleText(s.TraceID, maxTraceIDLen); m != "" {
		return sampleErr(i, "trace_id", m)
	}
	return nil
}

// checkTags validates the tags of sample i. The decoder calls it once per
// distinct tag object of a batch.
func checkTags(i int, tags map[string]string) *apiError {
	if len(tags) > maxTags {
		return sampleErr(i, "tags", "must have at most "+strconv.Itoa(maxTags)+" entries")
	}
	for k, v := range tags {
		if k == "" {
			return sampleErr(i, "tags", "keys must not be empty")
		}
		if m := checkSampleText(k, maxTagKeyLen); m != "" {
			return sampleErr(i, "tags", "key "+m)
		}
		if m := checkSampleText(v, maxTagValueLen); m != "" {
			return sampleErr(i, "tags."+truncate(k, 40), m)
		}
	}
	return nil
}

// ingest serves POST /v1/projects/{project_id}/ingest.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("project_id")
	p := s.project(pid)
	if p == nil {
		writeError(w, notFound("project", pid))
		return
	}
	if err := s.limiter.allow("ingest:"+p.ID, s.now()); err != nil {
		writeError(w, err)
		return
	}
	if r.ContentLength > maxIngestCompressed {
		writeError(w, tooLarge())
		return
	}
	if len(r.Header.Get("Idempotency-Key")) > maxIdempotencyKey {
		writeError(w, errf(http.StatusBadRequest, codeBadRequest, "Idempotency-Key must be at most %d characters", maxIdempotencyKey))
		return
	}
	reserve := int64(maxIngestCompressed)
	if r.ContentLength >= 0 {
		reserve = r.ContentLength
	}
	if !s.pending.acquire(reserve) {
		writeError(w, busy())
		return
	}
	defer s.pending.release(reserve)

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 4<<20 {
			bufPool.Put(buf)
		}
	}()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxIngestCompressed)); err != nil {
		writeError(w, bodyReadError(w, err, tooLarge))
		return
	}
	p.mu.Lock()
	requireSig := p.EnableSignedIngest
	p.mu.Unlock()
	secret := p.secret.Load()
	now := s.now()
	samples, aerr := decodeIngest(ingestInput{
		Body:       buf.Bytes(),
		Encoding:   r.Header.Get("Content-Encoding"),
		Timestamp:  r.Header.Get("X-EB-Timestamp"),
		Signature:  r.Header.Get("X-EB-Signature"),
		Secret:     secret.raw,
		RequireSig: requireSig,
		Now:        now,
	})
	if aerr != nil {
		if aerr.Status == http.StatusUnauthorized {
			s.log.Warn("ingest rejected", "project_id", p.ID, "reason", aerr.Message)
		}
		writeError(w, aerr)
		return
	}
	accept := func(w http.ResponseWriter) {
		accepted, rejected, ok := s.route(p, samples, now.UnixMilli())
		if !ok {
			writeError(w, notFound("project", p.ID))
			return
		}
		if rejected > 0 {
			s.log.Warn("samples outside the timestamp window refused", "project_id", p.ID,
				"rejected", rejected, "window", s.cfg.SampleWindow)
		}
		resp := strconv.AppendInt([]byte(`{"accepted":`), int64(accepted), 10)
		resp = strconv.AppendInt(append(resp, `,"rejected":`...), int64(rejected), 10)
		writeRawJSON(w, http.StatusAccepted, append(resp, '}'))
	}
	if r.Header.Get("Idempotency-Key") == "" {
		accept(w)
		return
	}
	// Only an authenticated batch reaches the idempotency records, under
	// the credential that signed it.
	scope := "ingest:" + p.ID + ":unsigned"
	if requireSig {
		scope = "ingest:" + p.ID + ":" + secret.id
	}
	s.idem.run(w, r, scope, buf.Bytes(), now, accept)
}

// route feeds samples to the breakers linked to their router with their
// metric and keeps them for Samples. A ts_ms of 0 means "now". Samples
// further than SampleWindow from nowMs are refused and counted; samples
// stamped in the future are evaluated at nowMs.
func (s *Server) route(p *project, samples []Sample, nowMs int64) (accepted, rejected int, ok bool) {
	window := s.cfg.SampleWindow.Milliseconds()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return 0, 0, false
	}
	for i := range samples {
		sm := &samples[i]
		if sm.TsMs == 0 {
			sm.TsMs = nowMs
		}
		if sm.TsMs > nowMs+window || sm.TsMs < nowMs-window {
			rejected++
			continue
		}
		if byMetric := p.index[sm.RouterID]; byMetric != nil {
			ts := min(sm.TsMs, nowMs)
			for _, b := range byMetric[sm.Metric] {
				b.eng.Add(engine.Sample{TsMs: ts, Value: sm.Value, OK: sm.OK})
			}
		}
		p.samples.add(*sm)
		accepted++
	}
	return accepted, rejected, true
}

// Samples returns the samples accepted for a project, oldest first: every
// one of them, or the most recent that fit SampleLimit and SampleBytes. It
// returns nil for an unknown project.
func (s *Server) Samples(projectID string) []Sample {
	p := s.project(projectID)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	out := p.samples.all()
	p.mu.Unlock()
	for i := range out {
		if out[i].Tags != nil {
			out[i].Tags = cloneStringMap(out[i].Tags) // samples of a batch share tag maps
		}
	}
	return out
}
