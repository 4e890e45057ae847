package localserver

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Page sizes of the paginated list calls.
const (
	defaultPageLimit = 50
	maxPageLimit     = 500
)

const cursorPrefix = "c1."

// page is a parsed ?cursor=&limit= pair: items with a sequence number greater
// than after are listed, at most limit of them.
type page struct {
	after uint64
	limit int
}

// encodeCursor returns the opaque cursor that continues after seq.
func encodeCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatUint(seq, 10)))
}

// decodeCursor parses a cursor made by encodeCursor.
func decodeCursor(c string) (uint64, bool) {
	if len(c) > 64 {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || rest == "" || len(rest) > 20 || rest[0] == '+' || rest[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// parsePage reads cursor and limit from q; a bad value is a 400 naming it.
// A limit above the maximum is lowered to it.
func parsePage(q url.Values) (page, *apiError) {
	pg := page{limit: defaultPageLimit}
	if c := q.Get("cursor"); c != "" {
		n, ok := decodeCursor(c)
		if !ok {
			return pg, &apiError{Status: http.StatusBadRequest, Code: codeInvalidCursor, Field: "cursor",
				Message: "cursor: not a cursor returned by this server"}
		}
		pg.after = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return pg, &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Field: "limit",
				Message: "limit: must be an integer from 1 to " + strconv.Itoa(maxPageLimit)}
		}
		pg.limit = min(n, maxPageLimit)
	}
	return pg, nil
}

// paginate selects the page of items (sorted by seq) and returns the cursor
// of the next page, or "" on the last page.
func paginate[T any](items []T, seq func(T) uint64, pg page) ([]T, string) {
	start := 0
	for start < len(items) && seq(items[start]) <= pg.after {
		start++
	}
	items = items[start:]
	if len(items) <= pg.limit {
		return items, ""
	}
	items = items[:pg.limit]
	return items, encodeCursor(seq(items[len(items)-1]))
}
