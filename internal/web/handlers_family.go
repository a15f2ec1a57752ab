package web

// familyFlashes are the messages shown after a family page's change.
var familyFlashes = map[string]string{}

// familyRoutes are the family channel's pages and API.
func (s *Server) familyRoutes() []Route { return nil }
