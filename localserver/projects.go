package localserver

import (
	"net/http"
	"net/url"
	"slices"
)

type projectJSON struct {
	ID                 string `json:"id"`
	ProjectID          string `json:"project_id"`
	WorkspaceID        string `json:"workspace_id"`
	Name               string `json:"name"`
	SlackWebhookURL    string `json:"slack_webhook_url,omitempty"`
	TraceIDURLTemplate string `json:"trace_id_url_template,omitempty"`
	EnableSignedIngest bool   `json:"enable_signed_ingest"`
	InsertedAt         string `json:"inserted_at"`
}

// projectJSON renders p; p.mu is held.
func projectView(p *project) projectJSON {
	return projectJSON{
		ID: p.ID, ProjectID: p.ID, WorkspaceID: p.WorkspaceID, Name: p.Name,
		SlackWebhookURL: p.SlackWebhookURL, TraceIDURLTemplate: p.TraceIDURLTemplate,
		EnableSignedIngest: p.EnableSignedIngest, InsertedAt: fmtTime(p.InsertedAt),
	}
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) error {
	wsFilter := r.URL.Query().Get("workspace_id")
	list := s.projectList()
	slices.SortFunc(list, func(a, b *project) int { return cmpSeq(a.seq, b.seq) })
	out := make([]projectJSON, 0, len(list))
	for _, p := range list {
		p.mu.Lock()
		if !p.deleted && (wsFilter == "" || p.WorkspaceID == wsFilter) {
			out = append(out, projectView(p))
		}
		p.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out, "count": len(out)})
	return nil
}

type projectInput struct {
	Name               *string `json:"name"`
	WorkspaceID        *string `json:"workspace_id"`
	SlackWebhookURL    *string `json:"slack_webhook_url"`
	TraceIDURLTemplate *string `json:"trace_id_url_template"`
	EnableSignedIngest *bool   `json:"enable_signed_ingest"`
}

func checkURLField(field, v string) *apiError {
	if v == "" {
		return nil
	}
	if err := checkText(field, v, maxURLLen); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr(field, "must be an http or https URL")
	}
	return nil
}

func (in projectInput) validate() *apiError {
	if in.SlackWebhookURL != nil {
		if err := checkURLField("slack_webhook_url", *in.SlackWebhookURL); err != nil {
			return err
		}
	}
	if in.TraceIDURLTemplate != nil {
		if err := checkText("trace_id_url_template", *in.TraceIDURLTemplate, maxURLLen); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) error {
	var in projectInput
	if err := decodeJSON(w, r, &in, false); err != nil {
		return err
	}
	if err := checkName("name", deref(in.Name)); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	wsID := deref(in.WorkspaceID)
	if wsID == "" {
		wsID = s.defaultWS
	}
	if s.workspaces[wsID] == nil {
		return fieldErr("workspace_id", "no workspace %q", truncate(wsID, 80))
	}
	p := newProject(s.nextSeq(), newID("proj_"), wsID, *in.Name, newIngestSecret(), s.now(), s.cfg.SampleLimit, s.cfg.SampleBytes)
	p.SlackWebhookURL = deref(in.SlackWebhookURL)
	p.TraceIDURLTemplate = deref(in.TraceIDURLTemplate)
	if in.EnableSignedIngest != nil {
		p.EnableSignedIngest = *in.EnableSignedIngest
	}
	s.projects[p.ID] = p
	s.markDirty()
	writeJSON(w, http.StatusCreated, projectView(p))
	return nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, p *project) error {
	p.mu.Lock()
	v := projectView(p)
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, p *project) error {
	var in projectInput
	if err := decodeJSON(w, r, &in, true); err != nil {
		return err
	}
	if in.Name != nil {
		if err := checkName("name", *in.Name); err != nil {
			return err
		}
	}
	if err := in.validate(); err != nil {
		return err
	}
	if in.WorkspaceID != nil {
		s.mu.RLock()
		ok := s.workspaces[*in.WorkspaceID] != nil
		s.mu.RUnlock()
		if !ok {
			return fieldErr("workspace_id", "no workspace %q", truncate(*in.WorkspaceID, 80))
		}
	}
	p.mu.Lock()
	if p.deleted {
		p.mu.Unlock()
		return notFound("project", p.ID)
	}
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.WorkspaceID != nil {
		p.WorkspaceID = *in.WorkspaceID
	}
	if in.SlackWebhookURL != nil {
		p.SlackWebhookURL = *in.SlackWebhookURL
	}
	if in.TraceIDURLTemplate != nil {
		p.TraceIDURLTemplate = *in.TraceIDURLTemplate
	}
	if in.EnableSignedIngest != nil {
		p.EnableSignedIngest = *in.EnableSignedIngest
	}
	v := projectView(p)
	p.mu.Unlock()
	s.markDirty()
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, p *project) error {
	s.mu.Lock()
	if s.projects[p.ID] != p {
		s.mu.Unlock()
		return notFound("project", p.ID)
	}
	delete(s.projects, p.ID)
	p.mu.Lock()
	for _, k := range p.keys {
		delete(s.keyIndex, k.hash)
	}
	p.deleted = true
	p.closeSubscribersLocked()
	p.mu.Unlock()
	s.mu.Unlock()
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, p *project) error {
	secret := newIngestSecret()
	p.setSecret(secret)
	s.markDirty()
	s.log.Info("ingest secret rotated", "project_id", p.ID)
	writeJSON(w, http.StatusOK, map[string]string{"ingest_secret": secret})
	return nil
}
