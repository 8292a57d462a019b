// Package hsm manages signing keys and their certificates in a PKCS#11 token.
//
// It is the only part of esign that talks to the HSM. A KeyManager is opened
// on one token (selected by label or serial, or by an RFC 7512 "pkcs11:" URI),
// creates non-extractable RSA and ECDSA key pairs inside the token, stores
// certificates beside them, and hands out crypto.Signer values for the
// signing path. Nothing in the package is specific to one vendor: SoftHSM2 is
// used for development and tests, and a production HSM (Luna, Utimaco,
// nShield, ...) needs only a different Config.ModulePath.
//
// # Recovery
//
// A long-running service loses HSM sessions: a network HSM reboots, a token
// is re-inserted, another application on the same module calls C_Logout or
// C_CloseAllSessions. Signers returned by a KeyManager notice the PKCS#11
// errors that mean "the session or login is gone" (CKR_SESSION_HANDLE_INVALID,
// CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN, CKR_DEVICE_REMOVED,
// CKR_TOKEN_NOT_PRESENT, CKR_CRYPTOKI_NOT_INITIALIZED, stale object handles),
// re-open the connection to the token once (concurrent failures share one
// reconnection) and retry the operation once. The happy path costs one
// atomic load and one error check per signature.
//
// # One PKCS#11 library per process
//
// C_Initialize and C_Finalize act on the whole process, and a PKCS#11 library
// keeps its state until it is finalised. crypto11 counts the contexts that
// use a module path and initialises and finalises the library only for the
// first and last of them, so several KeyManagers may be open on the same
// module at once, on the same token or on different ones. To keep that count
// right:
//
//   - use the same ModulePath spelling everywhere in a process (Open resolves
//     symbolic links to help);
//   - InitToken initialises the library only when no KeyManager has it open,
//     and must not run at the same moment as the first Open of a process;
//   - a library that reads its configuration at C_Initialize (SoftHSM2 reads
//     SOFTHSM2_CONF) keeps the configuration it read for as long as any
//     KeyManager is open: one process should use one configuration.
package hsm
