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
