package localserver

// SubscriberCount returns the number of open state streams of a project.
func (s *Server) SubscriberCount(projectID string) int {
	p := s.project(projectID)
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.subs)
}

// PendingBodies returns the number of ingest bodies being read before their
// signature is checked.
func (s *Server) PendingBodies() int {
	s.pending.mu.Lock()
	defer s.pending.mu.Unlock()
	return s.pending.n
}
