package family

// Decision says whether something may be shared, and why not.
type Decision struct {
	Allowed bool
	Reason  string
}

func refuse() Decision { return Decision{Reason: "The detainee has not consented."} }
