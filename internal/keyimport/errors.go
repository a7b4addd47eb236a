package keyimport

import "errors"

var (
	// ErrInvalidCiphertext is every failure of Unwrap and every failure of
	// UnwrapPad on its ciphertext. Its text says nothing about which check
	// failed. The service answers it with InvalidCiphertextException.
	ErrInvalidCiphertext = errors.New("keyimport: invalid ciphertext")
	// ErrUnsupportedWrappingKeySpec: GenerateWrappingKey was asked for a
	// wrapping key spec other than RSA_2048, RSA_3072 or RSA_4096.
	ErrUnsupportedWrappingKeySpec = errors.New("keyimport: unsupported wrapping key spec")
	// ErrUnsupportedAlgorithm: Wrap was asked for a wrapping algorithm other
	// than the four this package implements.
	ErrUnsupportedAlgorithm = errors.New("keyimport: unsupported wrapping algorithm")
)
