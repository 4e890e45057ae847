package deploy

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// parseYAML reads one YAML document. Mappings become map[string]any,
// sequences []any, and every scalar its text (a string), so that the tests
// compare what the file says (port: 8080 and port: "8080" read the same);
// null stays nil. Anchors, aliases and merge keys are resolved. A stream
// of several documents is an error: the consumers of these files read only
// one, and a second would be ignored silently.
func parseYAML(src string) (any, error) {
	dec := yaml.NewDecoder(strings.NewReader(src))
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("more than one YAML document (or a broken second one: %v)", err)
	}
	return scalarsAsText(v)
}

// scalarsAsText turns every scalar of v into its text.
func scalarsAsText(v any) (any, error) {
	switch x := v.(type) {
	case nil, string:
		return x, nil
	case map[string]any:
		for k, e := range x {
			t, err := scalarsAsText(e)
			if err != nil {
				return nil, err
			}
			x[k] = t
		}
		return x, nil
	case []any:
		for i, e := range x {
			t, err := scalarsAsText(e)
			if err != nil {
				return nil, err
			}
			x[i] = t
		}
		return x, nil
	case map[any]any:
		return nil, fmt.Errorf("mapping with a key that is not a string: %v", x)
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(x), nil
	}
	return nil, fmt.Errorf("unexpected YAML value %T", v)
}

func TestParseYAML(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want any
	}{
		{"empty", "# only a comment\n\n", nil},
		{"mapping", "a: 1\nb: two words\nc:\nd: true\ne: 0.5\n", map[string]any{"a": "1", "b": "two words", "c": nil, "d": "true", "e": "0.5"}},
		{"nested", "a:\n  b:\n    c: x # note\n  d: y\n", map[string]any{"a": map[string]any{"b": map[string]any{"c": "x"}, "d": "y"}}},
		{"quoted", `a: "http://h:1/#x"` + "\nb: 'it''s'\nc: \"q\\\"q\"\n", map[string]any{"a": "http://h:1/#x", "b": "it's", "c": `q"q`}},
		{"sequence", "a:\n  - x\n  - \"y: z\"\n", map[string]any{"a": []any{"x", "y: z"}}},
		{"items are mappings", "s:\n  - name: a\n    port: 1\n  - name: b\n", map[string]any{"s": []any{
			map[string]any{"name": "a", "port": "1"}, map[string]any{"name": "b"}}}},
		{"flow", "a: [x, \"y,z\", 'w']\nb: []\nc: {d: e}\n", map[string]any{"a": []any{"x", "y,z", "w"}, "b": []any{}, "c": map[string]any{"d": "e"}}},
		{"key with slash", "otlp/jaeger:\n  endpoint: \"j:4317\"\n", map[string]any{"otlp/jaeger": map[string]any{"endpoint": "j:4317"}}},
		// What a hand-written subset reader refused, and compose files use.
		{"anchor and merge key", "x: &common\n  restart: no\n  interval: 5s\ns:\n  <<: *common\n  interval: 2s\n",
			map[string]any{"x": map[string]any{"restart": "no", "interval": "5s"}, "s": map[string]any{"restart": "no", "interval": "2s"}}},
		{"block scalar", "a: |\n  line one\n  line two\nb: >-\n  folded\n  text\n", map[string]any{"a": "line one\nline two\n", "b": "folded text"}},
		{"tab in a scalar", "a: \"x\ty\"\n", map[string]any{"a": "x\ty"}},
		{"document marker", "---\na: 1\n", map[string]any{"a": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseYAML(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseYAMLRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, src, wantErr string
	}{
		{"tab indentation", "a:\n\tb: c\n", "line 2"},
		{"bad indentation", "a: b\n  c: d\n", "line 2"},
		{"duplicate key", "a: 1\na: 2\n", `mapping key "a" already defined`},
		{"two documents", "a: 1\n---\nb: 2\n", "more than one YAML document"},
		{"bad quote", "a: \"x\n", "unexpected end of stream"},
		{"non-string key", "1: a\n2: b\n", "not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseYAML(tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
