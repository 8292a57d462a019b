package csc

// HoldSlots takes every signing slot of s, as signings in flight would,
// until release.
func HoldSlots(s *Server) (release func()) {
	for range cap(s.slots) {
		s.slots <- struct{}{}
	}
	return func() {
		for range cap(s.slots) {
			<-s.slots
		}
	}
}

// HoldDocRequests takes every place of signDoc requests in flight, until
// release.
func HoldDocRequests(s *Server) (release func()) {
	for range cap(s.docs) {
		s.docs <- struct{}{}
	}
	return func() {
		for range cap(s.docs) {
			<-s.docs
		}
	}
}
