package cases

// Link links a case to another, or to an outside event.
type Link struct{ OtherLabel, Relation string }

func hide(l *Link) { l.OtherLabel, l.Relation = "a case you cannot see", "Linked to" }

type Service struct{}

// RecordEvent writes a fact into a case's timeline.
func (s *Service) RecordEvent(title, body string) error { return nil }

func (s *Service) contact(mode string) error {
	hide(&Link{})
	return s.RecordEvent("Consular contact: "+mode, "")
}
