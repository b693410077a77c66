package mail

// SMTPOptions say how to reach the mail server. The caller builds them
// from its configuration (mail.smtp in the YAML).
type SMTPOptions struct {
	Addr     string // host:port
	Username string // "": no AUTH
	Password string
	TLS      string // none | starttls | tls
	PoolSize int    // connections kept open; DefaultPoolSize when not positive
}
