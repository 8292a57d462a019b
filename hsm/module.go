package hsm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ThalesIgnite/crypto11"
	"github.com/miekg/pkcs11"
)

// maxTokenLabel is the size of CK_TOKEN_INFO.label: 32 bytes, blank padded.
const maxTokenLabel = 32

// module is a direct handle on a PKCS#11 library for the calls crypto11 does
// not offer: token initialisation and the checks that keep crypto11 from
// finalising a library other contexts still use.
type module struct {
	p *pkcs11.Ctx
	// finalize is set when this handle initialised the library and so must
	// finalise it again.
	finalize bool
}

// loadModule loads the library without initialising it.
func loadModule(path string) (*module, error) {
	p := pkcs11.New(path)
	if p == nil {
		return nil, fmt.Errorf("hsm: load PKCS#11 module %s: cannot load the library or it has no C_GetFunctionList", path)
	}
	return &module{p: p}, nil
}

// live reports whether the library is initialised in this process, which
// means some crypto11 context (of any KeyManager) is using it.
func (m *module) live() bool {
	_, err := m.p.GetInfo()
	return err == nil
}

// initialize initialises the library unless it already is.
func (m *module) initialize() error {
	err := m.p.Initialize()
	switch {
	case err == nil:
		m.finalize = true
		return nil
	case isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED):
		return nil
	}
	return fmt.Errorf("hsm: C_Initialize: %w", err)
}

// close finalises the library if this handle initialised it, then unloads
// this handle (the library stays loaded while other handles hold it).
func (m *module) close() error {
	var err error
	if m.finalize {
		err = m.p.Finalize()
		m.finalize = false
	}
	m.p.Destroy()
	return err
}

// reinitialize finalises the library and initialises it again, so that
// it reads its slots and tokens afresh. Every session of the process ends,
// those of other KeyManagers too: their next operation fails with a
// session error and reconnects, as after any lost session. If the
// initialisation fails (the token is still gone, say) the library is left
// finalised, and the next connect initialises it.
func reinitialize(path string) error {
	mod, err := loadModule(path)
	if err != nil {
		return err
	}
	// This handle does not own the initialisation: closing it must not
	// finalise what it initialises for the crypto11 contexts.
	defer mod.close()
	if err := mod.p.Finalize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
		return fmt.Errorf("hsm: C_Finalize to look at the token again: %w", err)
	}
	newEpoch(path)
	if err := mod.p.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return fmt.Errorf("hsm: C_Initialize to look at the token again: %w", err)
	}
	return nil
}

// epochs counts, per module path, the times this package saw the library
// finalised under live crypto11 contexts. Session handles do not outlive a
// C_Finalize, and the module hands the same numbers out again afterwards
// (SoftHSM counts from 1 again): a context made in an earlier epoch must
// not close its sessions, or it would close other contexts' sessions, and
// with the last of them the token's login.
var epochs struct {
	sync.Mutex
	n map[string]uint64
}

// epoch returns the current epoch of the module at path.
func epoch(path string) uint64 {
	epochs.Lock()
	defer epochs.Unlock()
	return epochs.n[path]
}

// newEpoch records that the library at path was finalised.
func newEpoch(path string) {
	epochs.Lock()
	defer epochs.Unlock()
	if epochs.n == nil {
		epochs.n = map[string]uint64{}
	}
	epochs.n[path]++
}

// slotInfo is a slot with a token present.
type slotInfo struct {
	id    uint
	token pkcs11.TokenInfo
}

func (m *module) tokens() ([]slotInfo, error) {
	slots, err := m.p.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("hsm: C_GetSlotList: %w", err)
	}
	out := make([]slotInfo, 0, len(slots))
	for _, s := range slots {
		ti, err := m.p.GetTokenInfo(s)
		if err != nil {
			return nil, fmt.Errorf("hsm: C_GetTokenInfo slot %d: %w", s, err)
		}
		out = append(out, slotInfo{id: s, token: ti})
	}
	return out, nil
}

// findToken returns the initialised token matching cfg's label and serial.
func (m *module) findToken(cfg Config) (slotInfo, error) {
	all, err := m.tokens()
	if err != nil {
		return slotInfo{}, err
	}
	var found []slotInfo
	for _, s := range all {
		if s.token.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if cfg.TokenLabel != "" && s.token.Label != cfg.TokenLabel {
			continue
		}
		if cfg.TokenSerial != "" && s.token.SerialNumber != cfg.TokenSerial {
			continue
		}
		found = append(found, s)
	}
	switch len(found) {
	case 0:
		return slotInfo{}, fmt.Errorf("hsm: %s in %s: %w", cfg.tokenDescription(), cfg.ModulePath, ErrNotFound)
	case 1:
	default:
		return slotInfo{}, fmt.Errorf("hsm: %d tokens match %s: select by serial", len(found), cfg.tokenDescription())
	}
	s := found[0]
	switch f := s.token.Flags; {
	case f&pkcs11.CKF_USER_PIN_LOCKED != 0:
		return slotInfo{}, fmt.Errorf("hsm: %s: user PIN is locked", cfg.tokenDescription())
	case f&pkcs11.CKF_USER_PIN_INITIALIZED == 0:
		return slotInfo{}, fmt.Errorf("hsm: %s: user PIN is not initialised", cfg.tokenDescription())
	}
	return s, nil
}

// InitToken initialises the first token of the module that is not yet
// initialised: C_InitToken with soPIN and label, then as security officer
// C_InitPIN with userPIN. It returns ErrAlreadyExists if a token with that
// label exists already, and an error if every token is initialised.
//
// It uses only standard PKCS#11 calls, so it works with any module that lets
// an application initialise tokens. The library is initialised and
// finalised around the call unless a KeyManager already holds it; see the
// package documentation about running it beside Open.
func InitToken(ctx context.Context, modulePath, label, soPIN, userPIN string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if modulePath == "" {
		modulePath = DefaultModulePath
	}
	switch {
	case label == "":
		return errors.New("hsm: InitToken: empty token label")
	case len(label) > maxTokenLabel:
		return fmt.Errorf("hsm: InitToken: token label is %d bytes, PKCS#11 allows %d", len(label), maxTokenLabel)
	case !utf8.ValidString(label) || strings.TrimRight(label, " ") != label:
		return errors.New("hsm: InitToken: token label must be UTF-8 without trailing blanks")
	case soPIN == "" || userPIN == "":
		return errors.New("hsm: InitToken: SO PIN and user PIN must not be empty")
	}
	mod, err := loadModule(canonicalModulePath(modulePath))
	if err != nil {
		return err
	}
	defer mod.close()
	if err := mod.initialize(); err != nil {
		return err
	}
	all, err := mod.tokens()
	if err != nil {
		return err
	}
	free := -1
	for i, s := range all {
		initialized := s.token.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0
		if initialized && s.token.Label == label {
			return fmt.Errorf("hsm: token %q: %w", label, ErrAlreadyExists)
		}
		if !initialized && free < 0 {
			free = i
		}
	}
	if free < 0 {
		return fmt.Errorf("hsm: InitToken: every token of %s is initialised already", modulePath)
	}
	slot := all[free].id
	if err := mod.p.InitToken(slot, soPIN, label); err != nil {
		return fmt.Errorf("hsm: C_InitToken slot %d: %w", slot, err)
	}
	sh, err := mod.p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("hsm: open session on new token %q: %w", label, err)
	}
	defer mod.p.CloseSession(sh)
	if err := mod.p.Login(sh, pkcs11.CKU_SO, soPIN); err != nil {
		return fmt.Errorf("hsm: log in as SO on new token %q: %w", label, err)
	}
	if err := mod.p.InitPIN(sh, userPIN); err != nil {
		_ = mod.p.Logout(sh)
		return fmt.Errorf("hsm: C_InitPIN on new token %q: %w", label, err)
	}
	if err := mod.p.Logout(sh); err != nil {
		return fmt.Errorf("hsm: log out SO from new token %q: %w", label, err)
	}
	return nil
}

// canonicalModulePath resolves symbolic links so that every spelling of one
// library shares crypto11's per-path reference count.
func canonicalModulePath(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return path
}

// connect opens a crypto11 context on the token cfg selects; cfg must be resolved.
//
// crypto11.Configure calls C_Finalize whenever it fails, even if other
// contexts use the library. So when the library is live, connect first
// checks with a session of its own that the token exists and the PIN logs
// in, and keeps that session open (and so the login, which PKCS#11 shares
// between the sessions of an application) until crypto11 has logged in.
// When the library is not live, no one else can be hurt and crypto11 goes
// first. If the library was finalised under live contexts, connect
// initialises it again: crypto11's count still says it is in use.
func connect(cfg Config) (*crypto11.Context, error) {
	mod, err := loadModule(cfg.ModulePath)
	if err != nil {
		return nil, err
	}
	defer mod.close()

	c11cfg := &crypto11.Config{
		Path:        cfg.ModulePath,
		TokenLabel:  cfg.TokenLabel,
		Pin:         cfg.PIN,
		MaxSessions: cfg.MaxSessions,
	}
	if cfg.TokenSerial != "" {
		// crypto11 takes one selector; the serial is the precise one.
		c11cfg.TokenLabel, c11cfg.TokenSerial = "", cfg.TokenSerial
	}

	if mod.live() {
		slot, err := mod.findToken(cfg)
		if err != nil {
			return nil, err
		}
		sh, err := mod.p.OpenSession(slot.id, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			return nil, fmt.Errorf("hsm: open session on %s: %w", cfg.tokenDescription(), err)
		}
		defer mod.p.CloseSession(sh)
		if err := mod.p.Login(sh, pkcs11.CKU_USER, cfg.PIN); err != nil && !isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
			return nil, fmt.Errorf("hsm: log in to %s: %w", cfg.tokenDescription(), err)
		}
		return configure(c11cfg, cfg)
	}

	c, err := configure(c11cfg, cfg)
	if isCode(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
		// Finalised under live contexts: crypto11 skipped C_Initialize because
		// its count is not zero. Initialise for them and try once more; the
		// last crypto11 Close finalises.
		ierr := mod.p.Initialize()
		if ierr != nil && !isCode(ierr, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return nil, fmt.Errorf("hsm: re-initialise PKCS#11 module %s: %w", cfg.ModulePath, ierr)
		}
		if ierr == nil {
			newEpoch(cfg.ModulePath)
		}
		return connect(cfg)
	}
	if err != nil {
		return nil, err
	}
	if cfg.TokenLabel != "" && cfg.TokenSerial != "" {
		// crypto11 matched the serial only; check the label too.
		if _, ferr := mod.findToken(cfg); ferr != nil {
			_ = c.Close()
			return nil, ferr
		}
	}
	return c, nil
}

// configure calls crypto11.Configure and gives its errors context.
func configure(c11cfg *crypto11.Config, cfg Config) (*crypto11.Context, error) {
	c, err := crypto11.Configure(c11cfg)
	if err == nil {
		return c, nil
	}
	// crypto11's token-not-found error is unexported; its text is stable in v1.2.5.
	if strings.Contains(err.Error(), "could not find PKCS#11 token") {
		return nil, fmt.Errorf("hsm: %s in %s: %w", cfg.tokenDescription(), cfg.ModulePath, ErrNotFound)
	}
	return nil, fmt.Errorf("hsm: open %s in %s: %w", cfg.tokenDescription(), cfg.ModulePath, err)
}
