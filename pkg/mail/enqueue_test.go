package mail

import "errors"

// Enqueue is Reserve and Send in one call, for the tests (the pages
// reserve first, then decide): it hands m to the workers, in the queue of
// m.Tenant. It never blocks on the mail server: a full queue or a closed
// dispatcher is an error, and the mail is counted as failed.
func (d *Dispatcher) Enqueue(m Message) error {
	s, err := d.Reserve(m.Tenant)
	if err != nil {
		if errors.Is(err, ErrQueueFull) {
			d.failed(m, 0, err)
		}
		return err
	}
	return s.Send(m)
}
