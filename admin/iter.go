package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"
)

// paginate walks the pages returned by fetch, starting at cursor, yielding
// each item. It stops after a page without a next cursor, at the first error
// (yielded once with a zero item), when the consumer stops, or when the server
// repeats a cursor.
func paginate[T any](ctx context.Context, cursor string, fetch func(ctx context.Context, cursor string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if ctx == nil {
			yield(zero, invalidArg("context", "is nil"))
			return
		}
		seen := map[string]bool{cursor: true}
		for {
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
			items, next, err := fetch(ctx, cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if seen[next] {
				yield(zero, fmt.Errorf("admin: the server repeated page cursor %q; stopping to avoid a loop", next))
				return
			}
			seen[next] = true
			cursor = next
		}
	}
}

// pageQuery adds cursor and limit to a query when set.
func pageQuery(q url.Values, cursor string, limit int) {
	if cursor != "" {
		q["cursor"] = []string{cursor}
	}
	if limit > 0 {
		q["limit"] = []string{strconv.Itoa(limit)}
	}
}

// unwrapObject returns the object under key when data is {"key": {...}},
// otherwise data itself (the bare object).
func unwrapObject(data []byte, key string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if raw, ok := m[key]; ok {
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
			return t, nil
		}
	}
	return data, nil
}

// unwrapList returns data when it is a JSON array, otherwise the array under
// key of the object data (null or absent → empty).
func unwrapList(data []byte, key string) ([]byte, error) {
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '[' {
		return t, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, err
	}
	raw, ok := m[key]
	if !ok {
		return nil, errors.New("response is neither a list nor an object with \"" + key + "\"")
	}
	if r := bytes.TrimSpace(raw); len(r) == 0 || bytes.Equal(r, []byte("null")) {
		return []byte("[]"), nil
	}
	return raw, nil
}

// decodeWrapped decodes a response that is a bare object or {"key": object}.
func decodeWrapped[T any](c *Client, cl call, data []byte, key string) (*T, error) {
	inner, err := unwrapObject(data, key)
	if err != nil {
		return nil, fmt.Errorf("admin: %s %s: decoding response: %w", cl.method, cl.path, err)
	}
	v := new(T)
	if err := c.decode(cl, inner, v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeList decodes a response that is a list or {"key": list}.
func decodeList[T any](c *Client, cl call, data []byte, key string) ([]T, error) {
	inner, err := unwrapList(data, key)
	if err != nil {
		return nil, fmt.Errorf("admin: %s %s: decoding response: %w", cl.method, cl.path, err)
	}
	var v []T
	if err := c.decode(cl, inner, &v); err != nil {
		return nil, err
	}
	if v == nil {
		v = []T{}
	}
	return v, nil
}
