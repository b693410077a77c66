package pages

// Actions are the URLs a page posts or links to; a page uses those it has
// a form or link for and skips the empty ones. Templates reach them by
// name, {{.Action "verify"}}, so an admin's templates (templatesDir) keep
// working whatever the Go side calls the fields.
type Actions struct {
	Email   string // the email form
	Send    string // the send-code form
	Verify  string // the code form
	Resend  string // the resend form
	Restart string // "use another email": back to the email page
	// Retry is "try again": the sign-in of the same auth request from its
	// start (an upstream that could not be reached).
	Retry string
	Home  string // the tenant's apps page
	// Password is the password form; the password page posts to Verify
	// when it is empty.
	Password string
	Logout   string // the sign-out confirmation form
}

// urls are all the actions, for what treats them alike (the page cache);
// TestActionURLsAreAll keeps the list whole. An array, so that walking it
// puts nothing on the heap.
func (a *Actions) urls() [9]*string {
	return [...]*string{&a.Email, &a.Send, &a.Verify, &a.Resend, &a.Restart, &a.Retry, &a.Home, &a.Password, &a.Logout}
}

// ByName is the action a template names ("" for an unknown name, as the
// map it replaces answered).
func (a Actions) ByName(name string) string {
	switch name {
	case "email":
		return a.Email
	case "send":
		return a.Send
	case "verify":
		return a.Verify
	case "resend":
		return a.Resend
	case "restart":
		return a.Restart
	case "retry":
		return a.Retry
	case "home":
		return a.Home
	case "password":
		return a.Password
	case "logout":
		return a.Logout
	}
	return ""
}
