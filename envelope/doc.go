// Package envelope does envelope encryption in the AWS Encryption SDK
// message format, so that what it writes decrypts with any official
// Encryption SDK, and what they write decrypts here.
//
// A message carries its own data key, encrypted under one or more AWS KMS
// keys (trent's or AWS's), the encryption context, and the data in frames
// sealed with AES-256-GCM under a key derived from the data key. trent
// writes message format version 2 with the key-committing suites:
// SuiteCommitKeyECDSAP384 (the default; the message ends with an ECDSA P-384
// signature) or SuiteCommitKey (unsigned). It reads versions 2 and 1.
//
// Encrypting a stream:
//
//	kr := &envelope.KMSKeyring{Client: kmsClient, Generator: "alias/backups"}
//	enc, err := envelope.NewEncryptor(ctx, dst, envelope.EncryptConfig{
//		Keyring: kr, Context: map[string]string{"host": "db1"},
//	})
//	if err != nil { ... }
//	if _, err := io.Copy(enc, src); err != nil { ... }
//	if err := enc.Close(); err != nil { ... } // writes the final frame and the signature
//
// and decrypting it:
//
//	kr := &envelope.KMSKeyring{Client: kmsClient, KeyIDs: []string{keyARN}}
//	dec, err := envelope.NewDecryptor(ctx, src, envelope.DecryptConfig{
//		Keyring: kr, Context: map[string]string{"host": "db1"},
//	})
//	if err != nil { ... }
//	defer dec.Close()
//	if _, err := io.Copy(dst, dec); err != nil { ... } // discard dst: it did not verify
//
// kmsClient is anything with the KMSClient methods; the AWS SDK for Go v2's
// *kms.Client works against AWS KMS and against trent alike.
//
// Both directions stream in constant memory and use every core: frames are
// sealed and opened in parallel, and the signature hash runs beside them.
// The Decryptor releases only plaintext whose frame has been authenticated;
// with a signed suite, the plaintext of regular frames comes before the
// signature at the end has been checked, and the final frame only after it.
// Read returns io.EOF only once the whole message has verified: on any other
// error, discard what was read. See docs/envelope.md in the repository.
//
// For many small messages, NewCachingMaterials reuses data keys within
// bounds of age, messages and bytes, so that producers do not call KMS for
// each message.
package envelope
