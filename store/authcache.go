package store

import (
	"context"
	"fmt"
	"sync"
)

// authCache keeps what Authenticate and Authorize found, each entry
// stamped with the auth_version it was read under. The counter advances
// in the same transaction as any change to clients, credentials or
// assignments (database triggers), by this process or another one, so an
// entry is served only while nothing it depends on has changed: one read
// of one row per call instead of three queries per request.
//
// Entries are handed out as copies, except that a Credential's ChainPEM
// is shared: callers read it and never modify it.
//
// Only successes are kept: an unknown or disabled key is looked up every
// time, and no caller can fill the cache without a valid key.
type authCache struct {
	clients versionedMap[string, Client]    // by key hash
	grants  versionedMap[grant, Credential] // by client and credential
}

type grant struct{ client, credential string }

// maxCached bounds each map; past it the map starts again empty. Real
// deployments have tens of clients and credentials.
const maxCached = 4096

// authVersion reads the counter.
func (s *Store) authVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.queryRow(ctx, "SELECT version FROM auth_version WHERE id = 1").Scan(&v); err != nil {
		return 0, fmt.Errorf("read auth version: %w", err)
	}
	return v, nil
}

// versionedMap holds values stamped with the counter they were read under.
type versionedMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]versioned[V]
}

type versioned[V any] struct {
	version int64
	value   V
}

// get returns a copy of the value for k if it was read under version.
func (m *versionedMap[K, V]) get(k K, version int64) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[k]
	if !ok || e.version != version {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (m *versionedMap[K, V]) put(k K, version int64, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= maxCached {
		m.m = make(map[K]versioned[V])
	}
	m.m[k] = versioned[V]{version: version, value: v}
}
