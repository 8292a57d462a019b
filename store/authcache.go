package store

import (
	"context"
	"fmt"
	"slices"
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
	mu      sync.Mutex
	clients map[string]cachedClient // by key hash
	grants  map[grant]cachedGrant
}

type cachedClient struct {
	version int64
	client  Client
}

type grant struct{ client, credential string }

type cachedGrant struct {
	version    int64
	credential Credential
}

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

func (c *authCache) client(keyHash string, version int64) (*Client, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.clients[keyHash]
	if !ok || e.version != version {
		return nil, false
	}
	cl := e.client
	cl.Credentials = slices.Clone(cl.Credentials)
	return &cl, true
}

func (c *authCache) putClient(keyHash string, version int64, cl *Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clients == nil || len(c.clients) >= maxCached {
		c.clients = make(map[string]cachedClient)
	}
	c.clients[keyHash] = cachedClient{version: version, client: *cl}
}

func (c *authCache) grant(g grant, version int64) (*Credential, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.grants[g]
	if !ok || e.version != version {
		return nil, false
	}
	cr := e.credential
	return &cr, true
}

func (c *authCache) putGrant(g grant, version int64, cr *Credential) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.grants == nil || len(c.grants) >= maxCached {
		c.grants = make(map[grant]cachedGrant)
	}
	c.grants[g] = cachedGrant{version: version, credential: *cr}
}
