package cases

type Term struct {
	Code  string
	Label string
}

type Vocab []Term

func (v Vocab) Label(code string) string {
	for _, t := range v {
		if t.Code == code {
			return t.Label
		}
	}
	return code
}

var Sexes = Vocab{{"female", "Female"}, {"male", "Male"}, {Code: "unknown", Label: "Not known"}}
