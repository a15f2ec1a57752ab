package web

// reportFlashes are the messages shown after a report page's change.
var reportFlashes = map[string]string{}

// reportRoutes are the visit report pages and API.
func (s *Server) reportRoutes() []Route { return nil }
