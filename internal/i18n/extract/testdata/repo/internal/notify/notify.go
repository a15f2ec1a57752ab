package notify

type Kind string

type KindInfo struct {
	Kind   Kind
	Label  string
	Always bool
}

var Kinds = []KindInfo{
	{"visit.scheduled", "A visit I take part in is scheduled", false},
}

type Mail struct {
	Kind    Kind
	Subject string
	Text    string
	Key     string
	Invite  *Invite
}

type Invite struct {
	Method      string
	Summary     string
	Description string
}
