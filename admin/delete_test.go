package admin

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestDeleteRequiresTheCurrentName(t *testing.T) {
	tests := []struct {
		name    string
		confirm string
		del     func(c *Client, confirm string) error
		getBody string
	}{
		{"workspace", "acme", func(c *Client, confirm string) error {
			return c.DeleteWorkspace(context.Background(), "ws_1", confirm)
		}, `{"id":"ws_1","name":"acme","slug":"acme"}`},
		{"project", "prod-payments", func(c *Client, confirm string) error {
			return c.DeleteProject(context.Background(), "proj_1", confirm)
		}, `{"project_id":"proj_1","name":"prod-payments"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				if r.Method == http.MethodGet {
					writeJSON(w, 200, tt.getBody)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			c, _ := newTestClient(t, f.URL)
			for _, wrong := range []string{"", "Acme", tt.confirm + " ", "other"} {
				if err := tt.del(c, wrong); !errors.Is(err, ErrNameMismatch) {
					t.Errorf("confirm %q: err = %v, want ErrNameMismatch", wrong, err)
				}
			}
			for _, r := range f.requests() {
				if r.Method == http.MethodDelete {
					t.Fatal("a DELETE was sent despite the mismatch")
				}
			}
			if err := tt.del(c, tt.confirm); err != nil {
				t.Fatalf("matching confirmation: %v", err)
			}
			reqs := f.requests()
			if last := reqs[len(reqs)-1]; last.Method != http.MethodDelete {
				t.Errorf("last request %s %s, want DELETE", last.Method, last.Path)
			}
		})
	}
}

func TestDeleteOfMissingObjectSendsNoDelete(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 404, `{"code":"not_found"}`)
	})
	c, _ := newTestClient(t, f.URL)
	if err := c.DeleteProject(context.Background(), "proj_x", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v", err)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].Method != http.MethodGet {
		t.Errorf("requests %+v", reqs)
	}
}
