package deploy

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// parseYAML reads the block-style subset of YAML that the stack's files
// use: mappings and sequences nested by indentation (spaces only),
// "- key: value" sequence items, flow sequences of scalars ([a, "b"]), the
// empty flow mapping {}, plain, single- and double-quoted scalars, and
// comments. Mappings become map[string]any, sequences []any, scalars
// string, empty values nil. Anything else (anchors, tags, block scalars,
// several documents, tabs) is an error naming the line, so a file that
// drifts out of the subset fails loudly rather than being misread.
func parseYAML(src string) (any, error) {
	var ls []yline
	for i, raw := range strings.Split(src, "\n") {
		text := strings.TrimRight(stripComment(raw), " \r")
		trimmed := strings.TrimLeft(text, " ")
		if trimmed == "" {
			continue
		}
		n := i + 1
		if strings.HasPrefix(trimmed, "\t") || strings.Contains(text[:len(text)-len(trimmed)], "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation", n)
		}
		if trimmed == "---" || trimmed == "..." {
			return nil, fmt.Errorf("line %d: document markers are not supported", n)
		}
		ls = append(ls, yline{indent: len(text) - len(trimmed), text: trimmed, num: n})
	}
	if len(ls) == 0 {
		return nil, nil
	}
	p := &yparser{lines: ls}
	v, err := p.block(ls[0].indent)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.lines) {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].num)
	}
	return v, nil
}

type yline struct {
	indent int
	text   string
	num    int
}

type yparser struct {
	lines []yline
	i     int
}

func isItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

func (p *yparser) block(indent int) (any, error) {
	if isItem(p.lines[p.i].text) {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yparser) mapping(indent int) (any, error) {
	m := map[string]any{}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: unexpected indentation", l.num)
		}
		if isItem(l.text) {
			return nil, fmt.Errorf("line %d: sequence item inside a mapping", l.num)
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: want \"key: value\", got %q", l.num, l.text)
		}
		k, err := scalar(key, l.num)
		if err != nil {
			return nil, err
		}
		ks, _ := k.(string)
		if _, dup := m[ks]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q", l.num, ks)
		}
		p.i++
		var v any
		switch {
		case rest != "":
			if v, err = value(rest, l.num); err != nil {
				return nil, err
			}
		case p.i < len(p.lines) && p.lines[p.i].indent > indent:
			if v, err = p.block(p.lines[p.i].indent); err != nil {
				return nil, err
			}
		case p.i < len(p.lines) && p.lines[p.i].indent == indent && isItem(p.lines[p.i].text):
			// A sequence may sit at its key's indentation.
			if v, err = p.sequence(indent); err != nil {
				return nil, err
			}
		}
		m[ks] = v
	}
	return m, nil
}

func (p *yparser) sequence(indent int) (any, error) {
	s := []any{}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent != indent || !isItem(l.text) {
			if l.indent > indent {
				return nil, fmt.Errorf("line %d: unexpected indentation", l.num)
			}
			break
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		switch {
		case rest == "":
			p.i++
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				v, err := p.block(p.lines[p.i].indent)
				if err != nil {
					return nil, err
				}
				s = append(s, v)
			} else {
				s = append(s, nil)
			}
		case isMappingStart(rest):
			// "- key: value": the item is a mapping whose keys line up
			// with this first one.
			p.lines[p.i] = yline{indent: indent + len(l.text) - len(rest), text: rest, num: l.num}
			v, err := p.mapping(p.lines[p.i].indent)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		default:
			v, err := value(rest, l.num)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
			p.i++
		}
	}
	return s, nil
}

func isMappingStart(s string) bool {
	if s[0] == '[' || s[0] == '{' {
		return false
	}
	_, _, ok := splitKey(s)
	return ok
}

// splitKey splits "key: rest" at the first ": " (or a final ":") outside
// quotes.
func splitKey(s string) (key, rest string, ok bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 {
				quote = c
			}
		case c == ':' && (i == len(s)-1 || s[i+1] == ' '):
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), i > 0
		}
	}
	return "", "", false
}

// stripComment removes a comment: a # at the start or after a space,
// outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '[' || s[i-1] == ',' || s[i-1] == '-' {
				quote = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

// value reads an inline value: a flow sequence, {}, or a scalar.
func value(s string, num int) (any, error) {
	switch {
	case s == "{}":
		return map[string]any{}, nil
	case strings.HasPrefix(s, "{"):
		return nil, fmt.Errorf("line %d: flow mappings are not supported", num)
	case strings.HasPrefix(s, "["):
		if !strings.HasSuffix(s, "]") {
			return nil, fmt.Errorf("line %d: unterminated flow sequence", num)
		}
		out := []any{}
		for _, item := range splitFlow(s[1 : len(s)-1]) {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if strings.ContainsAny(item[:1], "[{") {
				return nil, fmt.Errorf("line %d: nested flow collections are not supported", num)
			}
			v, err := scalar(item, num)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return scalar(s, num)
}

// splitFlow splits the inside of a flow sequence at commas outside quotes.
func splitFlow(s string) []string {
	var parts []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == ',':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// scalar reads a plain or quoted scalar as a string.
func scalar(s string, num int) (any, error) {
	switch s[0] {
	case '"':
		v, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: bad double-quoted scalar %s", num, s)
		}
		return v, nil
	case '\'':
		if len(s) < 2 || s[len(s)-1] != '\'' {
			return nil, fmt.Errorf("line %d: bad single-quoted scalar %s", num, s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case '&', '*', '!', '|', '>', '%', '@', '`':
		return nil, fmt.Errorf("line %d: %q: anchors, aliases, tags and block scalars are not supported", num, s)
	}
	return s, nil
}

func TestParseYAML(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want any
	}{
		{"empty", "# only a comment\n\n", nil},
		{"mapping", "a: 1\nb: two words\nc:\n", map[string]any{"a": "1", "b": "two words", "c": nil}},
		{"nested", "a:\n  b:\n    c: x # note\n  d: y\n", map[string]any{"a": map[string]any{"b": map[string]any{"c": "x"}, "d": "y"}}},
		{"quoted", `a: "http://h:1/#x"` + "\nb: 'it''s'\nc: \"q\\\"q\"\n", map[string]any{"a": "http://h:1/#x", "b": "it's", "c": `q"q`}},
		{"url value", "url: http://prometheus:9090\n", map[string]any{"url": "http://prometheus:9090"}},
		{"sequence", "a:\n  - x\n  - \"y: z\"\n", map[string]any{"a": []any{"x", "y: z"}}},
		{"sequence at key indent", "a:\n- x\n- y\nb: c\n", map[string]any{"a": []any{"x", "y"}, "b": "c"}},
		{"items are mappings", "s:\n  - name: a\n    port: 1\n  - name: b\n", map[string]any{"s": []any{
			map[string]any{"name": "a", "port": "1"}, map[string]any{"name": "b"}}}},
		{"item mapping with nested sequence", "s:\n  - targets: [\"d:1\", e]\n    labels:\n      - l\n", map[string]any{"s": []any{
			map[string]any{"targets": []any{"d:1", "e"}, "labels": []any{"l"}}}}},
		{"flow", "a: [x, \"y,z\", 'w']\nb: []\nc: {}\n", map[string]any{"a": []any{"x", "y,z", "w"}, "b": []any{}, "c": map[string]any{}}},
		{"key with slash", "otlp/jaeger:\n  endpoint: \"j:4317\"\n", map[string]any{"otlp/jaeger": map[string]any{"endpoint": "j:4317"}}},
		{"top-level sequence", "- a\n- b: c\n", []any{"a", map[string]any{"b": "c"}}},
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

func TestParseYAMLRejectsWhatItDoesNotRead(t *testing.T) {
	for _, tc := range []struct {
		name, src, wantErr string
	}{
		{"tab", "a:\n\tb: c\n", "line 2: tab"},
		{"bad indentation", "a: b\n  c: d\n", "line 2: unexpected indentation"},
		{"duplicate key", "a: 1\na: 2\n", `line 2: duplicate key "a"`},
		{"anchor", "a: &x 1\n", "line 1"},
		{"block scalar", "a: |\n  text\n", "line 1"},
		{"documents", "a: 1\n---\nb: 2\n", "line 2: document markers"},
		{"flow mapping", "a: {b: c}\n", "line 1: flow mappings"},
		{"not a mapping", "a: 1\njust text\n", `line 2: want "key: value"`},
		{"item in mapping", "a: 1\n- b\n", "line 2: sequence item inside a mapping"},
		{"bad quote", "a: \"x\n", "line 1: bad double-quoted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseYAML(tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
