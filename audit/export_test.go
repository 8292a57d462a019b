package audit

// QueueLen reports how many appends wait for a writer, for tests that
// gather a group commit.
func QueueLen(l *Log) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}
