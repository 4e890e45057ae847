package localserver

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Input limits. They are documented in doc.go; requests that exceed them are
// answered 400 (ingest) or 422 (management API) naming the field.
const (
	maxNameLen        = 128  // characters of a name (workspace, project, breaker, router, channel, key)
	maxSlugLen        = 64   // characters of a workspace slug
	maxDescriptionLen = 1024 // characters of a router description
	maxMetricLen      = 128  // characters of a metric name
	maxIDLen          = 128  // characters of an ID in a request (router_id, breaker_id)
	maxTraceIDLen     = 128  // characters of a sample's trace_id
	maxTags           = 32   // tags per sample
	maxTagKeyLen      = 128  // characters of a tag key
	maxTagValueLen    = 256  // characters of a tag value
	maxMetadata       = 64   // entries of a metadata map
	maxMetaKeyLen     = 128  // characters of a metadata key
	maxMetaValueLen   = 1024 // characters of a metadata value
	maxURLLen         = 2048 // characters of a URL or URL template
	maxActionsLen     = 64 << 10
	maxLinkIDs        = 1000 // IDs in one link or batch-state request
	maxSyncBreakers   = 1000 // breakers in one sync request
)

// checkName validates a required name field.
func checkName(field, s string) *apiError {
	if strings.TrimSpace(s) == "" {
		return fieldErr(field, "is required")
	}
	return checkText(field, s, maxNameLen)
}

// checkText validates an optional text field of at most n characters.
func checkText(field, s string, n int) *apiError {
	if !utf8.ValidString(s) {
		return fieldErr(field, "must be valid UTF-8")
	}
	if c := utf8.RuneCountInString(s); c > n {
		return fieldErr(field, "must be at most %d characters (got %d)", n, c)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fieldErr(field, "must not contain control characters")
		}
	}
	return nil
}

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9\-]*$`)

func checkSlug(s string) *apiError {
	if s == "" {
		return fieldErr("slug", "is required")
	}
	if len(s) > maxSlugLen {
		return fieldErr("slug", "must be at most %d characters (got %d)", maxSlugLen, len(s))
	}
	if !slugPattern.MatchString(s) {
		return fieldErr("slug", "must contain only lowercase letters, digits and '-', starting with a letter or digit")
	}
	return nil
}

// slugify derives a slug from a name.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= maxSlugLen {
			break
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > maxSlugLen {
		s = strings.TrimRight(s[:maxSlugLen], "-")
	}
	if s == "" {
		s = "workspace"
	}
	return s
}

// checkMetadata validates a metadata map (field is "metadata" or a prefix).
func checkMetadata(field string, m map[string]string) *apiError {
	if len(m) > maxMetadata {
		return fieldErr(field, "must have at most %d entries (got %d)", maxMetadata, len(m))
	}
	for k, v := range m {
		if k == "" {
			return fieldErr(field, "keys must not be empty")
		}
		if err := checkText(field+"."+truncate(k, 40), k, maxMetaKeyLen); err != nil {
			return fieldErr(field, "key %q is too long or invalid (at most %d characters)", truncate(k, 40), maxMetaKeyLen)
		}
		if err := checkText(field+"."+k, v, maxMetaValueLen); err != nil {
			return err
		}
	}
	return nil
}

// checkSampleText validates a string of a sample; it returns a message or "".
func checkSampleText(s string, n int) string {
	if len(s) <= n {
		return ""
	}
	if len(s) > n*utf8.UTFMax || utf8.RuneCountInString(s) > n {
		return fmt.Sprintf("must be at most %d characters", n)
	}
	return ""
}
