package keyspec

// ML-DSA signature verification over an external μ.
//
// This is FIPS 204 (August 2024) Algorithm 8, ML-DSA.Verify_internal, from
// the point where μ has been computed (step 7), written from the standard's
// text: neither filippo.io/mldsa nor circl exposes verification over a
// precomputed μ in its public API. It is plain modular arithmetic on int64
// coefficients, with no Montgomery form or lazy reduction: verification only
// handles public data, and clarity matters more here than speed. Algorithm
// numbers in comments are FIPS 204's.
//
// Every input is public (key, μ, signature), so nothing needs to be constant
// time; the final comparison of c̃ uses crypto/subtle anyway. Malformed
// inputs of any kind return false, never panic: lengths are checked first,
// and every later index is bounded by construction.

import (
	"crypto/sha3"
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
)

// Constants shared by all parameter sets (FIPS 204 Section 4, Table 1).
const (
	mldsaQ    = 8380417 // 2^23 − 2^13 + 1
	mldsaN    = 256     // coefficients per polynomial
	mldsaD    = 13      // bits dropped from t
	mldsaZeta = 1753    // a primitive 512th root of unity mod q
	rhoSize   = 32      // ρ, the public seed of A
	t1Bits    = 10      // bitlen(q − 1) − d
)

// mldsaParamSet is one row of FIPS 204 Table 1.
type mldsaParamSet struct {
	name   string
	k, l   int   // A is k×l
	eta    int   // private key range
	tau    int   // number of ±1 in c
	lambda int   // collision strength of c̃, in bits
	gamma1 int64 // coefficient range of y (and so of z)
	gamma2 int64 // low-order rounding range
	omega  int   // maximum number of 1s in the hint h
}

var (
	mldsa44Set = mldsaParamSet{name: "ML-DSA-44", k: 4, l: 4, eta: 2, tau: 39, lambda: 128, gamma1: 1 << 17, gamma2: (mldsaQ - 1) / 88, omega: 80}
	mldsa65Set = mldsaParamSet{name: "ML-DSA-65", k: 6, l: 5, eta: 4, tau: 49, lambda: 192, gamma1: 1 << 19, gamma2: (mldsaQ - 1) / 32, omega: 55}
	mldsa87Set = mldsaParamSet{name: "ML-DSA-87", k: 8, l: 7, eta: 2, tau: 60, lambda: 256, gamma1: 1 << 19, gamma2: (mldsaQ - 1) / 32, omega: 75}
)

// mldsaParamSetFor returns the parameter set of ML_DSA_44/65/87 by level.
func mldsaParamSetFor(level int) mldsaParamSet {
	switch level {
	case 44:
		return mldsa44Set
	case 65:
		return mldsa65Set
	default:
		return mldsa87Set
	}
}

// beta is β = τ·η.
func (p mldsaParamSet) beta() int64 { return int64(p.tau * p.eta) }

// cTildeSize is the length of c̃ in bytes: 2λ bits.
func (p mldsaParamSet) cTildeSize() int { return p.lambda / 4 }

// zBits is the width of a packed z coefficient: bitlen((γ1 − 1) + γ1).
func (p mldsaParamSet) zBits() int { return bitlen(2*p.gamma1 - 1) }

// w1Bits is the width of a packed w1 coefficient: bitlen((q − 1)/(2γ2) − 1).
func (p mldsaParamSet) w1Bits() int { return bitlen((mldsaQ-1)/(2*p.gamma2) - 1) }

// publicKeySize is 32 + 32·k·(bitlen(q − 1) − d) (Algorithm 22).
func (p mldsaParamSet) publicKeySize() int { return rhoSize + p.k*mldsaN*t1Bits/8 }

// signatureSize is λ/4 + l·32·(1 + bitlen(γ1 − 1)) + ω + k (Algorithm 26).
func (p mldsaParamSet) signatureSize() int {
	return p.cTildeSize() + p.l*mldsaN*p.zBits()/8 + p.omega + p.k
}

// mlPoly is an element of R_q (or T_q, in the NTT domain): 256 coefficients,
// kept in [0, q) except where a function says otherwise.
type mlPoly [mldsaN]int64

// verifyExternalMu is ML-DSA.Verify_internal (Algorithm 8) with μ given: it
// reports whether signature is valid for the 64-byte μ under publicKey (the
// raw pkEncode form) with parameter set p.
func verifyExternalMu(p mldsaParamSet, publicKey, mu, signature []byte) bool {
	if len(publicKey) != p.publicKeySize() || len(signature) != p.signatureSize() || len(mu) != muSize {
		return false
	}
	rho, t1 := pkDecode(p, publicKey)           // step 1
	cTilde, z, h, ok := sigDecode(p, signature) // step 2
	if !ok {                                    // step 3: h = ⊥
		return false
	}
	aHat := expandA(p, rho)      // step 5
	c := sampleInBall(p, cTilde) // step 8
	cHat := ntt(&c)

	zHat := make([]mlPoly, p.l)
	for j := range z {
		var zq mlPoly
		for n, v := range z[j] {
			zq[n] = modQ(v)
		}
		zHat[j] = ntt(&zq)
	}

	// Step 9, row by row: w'Approx = NTT⁻¹(Â∘NTT(z) − NTT(c)∘NTT(t1·2^d)),
	// then step 10: w1' = UseHint(h, w'Approx).
	w1 := make([]mlPoly, p.k)
	for i := range p.k {
		var t1Scaled mlPoly
		for n, v := range t1[i] {
			t1Scaled[n] = v << mldsaD // at most (2^10 − 1)·2^13 = q − 1: already reduced
		}
		t1Hat := ntt(&t1Scaled)
		var acc mlPoly
		for n := range mldsaN {
			var sum int64
			for j := range p.l {
				sum += aHat[i][j][n] * zHat[j][n] % mldsaQ
			}
			acc[n] = modQ(sum - cHat[n]*t1Hat[n]%mldsaQ)
		}
		wApprox := nttInverse(&acc)
		for n := range mldsaN {
			w1[i][n] = useHint(h[i][n], wApprox[n], p.gamma2)
		}
	}

	// Step 12: c̃' = H(μ ‖ w1Encode(w1'), λ/4).
	hash := sha3.NewSHAKE256()
	hash.Write(mu)
	hash.Write(w1Encode(p, w1))
	cTildePrime := make([]byte, p.cTildeSize())
	hash.Read(cTildePrime)

	// Step 13: ||z||∞ < γ1 − β and c̃ = c̃'.
	normOK := infinityNormBelow(z, p.gamma1-p.beta())
	return normOK && subtle.ConstantTimeCompare(cTilde, cTildePrime) == 1
}

// pkDecode is Algorithm 23: ρ ‖ t1, each t1 coefficient 10 bits
// (SimpleBitUnpack with b = 2^10 − 1, Algorithm 18). len(pk) has been checked.
func pkDecode(p mldsaParamSet, pk []byte) (rho []byte, t1 []mlPoly) {
	rho = pk[:rhoSize]
	rest := pk[rhoSize:]
	size := mldsaN * t1Bits / 8
	t1 = make([]mlPoly, p.k)
	for i := range t1 {
		t1[i] = unpackBits(rest[i*size:(i+1)*size], t1Bits)
	}
	return rho, t1
}

// sigDecode is Algorithm 27: c̃ ‖ z ‖ h. z's coefficients are
// BitUnpack(·, γ1 − 1, γ1) (Algorithm 19), γ1 − x for each packed x, so in
// [−γ1 + 1, γ1] and signed here, not reduced mod q. ok is false when
// HintBitUnpack returns ⊥. len(sig) has been checked.
func sigDecode(p mldsaParamSet, sig []byte) (cTilde []byte, z []mlPoly, h [][mldsaN]bool, ok bool) {
	cTilde = sig[:p.cTildeSize()]
	rest := sig[p.cTildeSize():]
	size := mldsaN * p.zBits() / 8
	z = make([]mlPoly, p.l)
	for j := range z {
		packed := unpackBits(rest[j*size:(j+1)*size], p.zBits())
		for n, x := range packed {
			z[j][n] = p.gamma1 - x
		}
	}
	h, ok = hintBitUnpack(p, rest[p.l*size:])
	return cTilde, z, h, ok
}

// hintBitUnpack is Algorithm 21. y is ω + k bytes: the indices of the 1s of
// each polynomial in turn, then zero padding up to ω bytes, then k running
// totals, one per polynomial. Anything but the unique encoding is ⊥ (ok
// false): a total that decreases or exceeds ω, indices not strictly
// increasing within a polynomial, or a nonzero padding byte.
func hintBitUnpack(p mldsaParamSet, y []byte) (h [][mldsaN]bool, ok bool) {
	h = make([][mldsaN]bool, p.k)
	index := 0
	for i := range p.k {
		total := int(y[p.omega+i])
		if total < index || total > p.omega {
			return nil, false
		}
		first := index
		for index < total {
			if index > first && y[index-1] >= y[index] {
				return nil, false
			}
			h[i][y[index]] = true // a byte: always < 256
			index++
		}
	}
	for i := index; i < p.omega; i++ {
		if y[i] != 0 {
			return nil, false
		}
	}
	return h, true
}

// w1Encode is Algorithm 28: SimpleBitPack(w1[i], (q − 1)/(2γ2) − 1) for each
// polynomial, concatenated.
func w1Encode(p mldsaParamSet, w1 []mlPoly) []byte {
	out := make([]byte, 0, p.k*mldsaN*p.w1Bits()/8)
	for i := range w1 {
		out = packBits(out, &w1[i], p.w1Bits())
	}
	return out
}

// unpackBits reads 256 width-bit integers from b (exactly 32·width bytes) as
// a little-endian bit string, each integer least significant bit first: the
// BytesToBits / IntegerFromBits order of Algorithms 18 and 19.
func unpackBits(b []byte, width int) mlPoly {
	var f mlPoly
	var acc uint64 // bits read but not yet used, lowest first
	var have, pos int
	mask := uint64(1)<<width - 1
	for n := range f {
		for have < width {
			acc |= uint64(b[pos]) << have
			pos++
			have += 8
		}
		f[n] = int64(acc & mask)
		acc >>= width
		have -= width
	}
	return f
}

// packBits appends the 256 coefficients of f, each as a width-bit integer,
// in the order unpackBits reads them (SimpleBitPack, Algorithm 16). The
// coefficients must be in [0, 2^width).
func packBits(dst []byte, f *mlPoly, width int) []byte {
	var acc uint64
	var have int
	for _, v := range f {
		acc |= uint64(v) << have
		have += width
		for have >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			have -= 8
		}
	}
	return dst
}

// expandA is Algorithm 32: Â[r][s] = RejNTTPoly(ρ ‖ s ‖ r), with s and r
// one byte each (column index first).
func expandA(p mldsaParamSet, rho []byte) [][]mlPoly {
	aHat := make([][]mlPoly, p.k)
	seed := make([]byte, rhoSize+2)
	copy(seed, rho)
	for r := range p.k {
		aHat[r] = make([]mlPoly, p.l)
		for s := range p.l {
			seed[rhoSize] = byte(s)
			seed[rhoSize+1] = byte(r)
			aHat[r][s] = rejNTTPoly(seed)
		}
	}
	return aHat
}

// rejNTTPoly is Algorithm 30: coefficients of an element of T_q sampled by
// rejection from SHAKE128(seed), three bytes at a time (CoeffFromThreeBytes,
// Algorithm 14: the top bit of the third byte is cleared, values ≥ q are
// rejected).
func rejNTTPoly(seed []byte) mlPoly {
	g := sha3.NewSHAKE128()
	g.Write(seed)
	var a mlPoly
	var b [3]byte
	for j := 0; j < mldsaN; {
		g.Read(b[:])
		v := int64(b[2]&0x7f)<<16 | int64(b[1])<<8 | int64(b[0])
		if v < mldsaQ {
			a[j] = v
			j++
		}
	}
	return a
}

// sampleInBall is Algorithm 29: the polynomial c with exactly τ coefficients
// ±1 and the rest 0, from SHAKE256(c̃) (all of c̃). The first 8 bytes of
// output give the signs, least significant bit first; then one byte per
// position, by rejection, for a Fisher–Yates style shuffle.
func sampleInBall(p mldsaParamSet, cTilde []byte) mlPoly {
	hash := sha3.NewSHAKE256()
	hash.Write(cTilde)
	var s [8]byte
	hash.Read(s[:])
	signs := binary.LittleEndian.Uint64(s[:]) // bit k is h[k] of BytesToBits(s)

	var c mlPoly
	var j [1]byte
	for i := mldsaN - p.tau; i < mldsaN; i++ {
		hash.Read(j[:])
		for int(j[0]) > i {
			hash.Read(j[:])
		}
		c[i] = c[j[0]]
		if signs>>(i+p.tau-mldsaN)&1 == 1 {
			c[j[0]] = mldsaQ - 1 // −1 mod q
		} else {
			c[j[0]] = 1
		}
	}
	return c
}

// nttZetas[m] = ζ^BitRev8(m) mod q (FIPS 204 Appendix B lists m = 1..255;
// m = 0 gives ζ^0 = 1 and is not used). nttInverseScale is 256^−1 mod q,
// the constant f = 8347681 of Algorithm 42.
var (
	nttZetas        = computeZetas()
	nttInverseScale = powModQ(mldsaN, mldsaQ-2)
)

func computeZetas() [mldsaN]int64 {
	var zetas [mldsaN]int64
	for m := range zetas {
		zetas[m] = powModQ(mldsaZeta, int64(bits.Reverse8(uint8(m))))
	}
	return zetas
}

// powModQ is x^e mod q, by square-and-multiply (e ≥ 0).
func powModQ(x, e int64) int64 {
	result, base := int64(1), modQ(x)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			result = result * base % mldsaQ
		}
		base = base * base % mldsaQ
	}
	return result
}

// ntt is Algorithm 41: the number-theoretic transform of w (coefficients in
// [0, q)) into T_q, in bit-reversed order.
func ntt(w *mlPoly) mlPoly {
	wHat := *w
	m := 0
	for length := 128; length >= 1; length /= 2 {
		for start := 0; start < mldsaN; start += 2 * length {
			m++
			z := nttZetas[m]
			for j := start; j < start+length; j++ {
				t := z * wHat[j+length] % mldsaQ
				wHat[j+length] = modQ(wHat[j] - t)
				wHat[j] = (wHat[j] + t) % mldsaQ
			}
		}
	}
	return wHat
}

// nttInverse is Algorithm 42: the inverse of ntt.
func nttInverse(wHat *mlPoly) mlPoly {
	w := *wHat
	m := mldsaN
	for length := 1; length < mldsaN; length *= 2 {
		for start := 0; start < mldsaN; start += 2 * length {
			m--
			z := mldsaQ - nttZetas[m] // −ζ^BitRev8(m) mod q
			for j := start; j < start+length; j++ {
				t := w[j]
				w[j] = (t + w[j+length]) % mldsaQ
				w[j+length] = modQ(t - w[j+length])
				w[j+length] = z * w[j+length] % mldsaQ
			}
		}
	}
	for j := range w {
		w[j] = nttInverseScale * w[j] % mldsaQ
	}
	return w
}

// decompose is Algorithm 36: r ≡ r1·2γ2 + r0 (mod q) with r0 = r mod± 2γ2,
// except that r+ − r0 = q − 1 gives r1 = 0 and r0 − 1.
func decompose(r, gamma2 int64) (r1, r0 int64) {
	rPlus := modQ(r)
	r0 = rPlus % (2 * gamma2)
	if r0 > gamma2 { // mod±: the representative in (−γ2, γ2]
		r0 -= 2 * gamma2
	}
	if rPlus-r0 == mldsaQ-1 {
		return 0, r0 - 1
	}
	return (rPlus - r0) / (2 * gamma2), r0
}

// useHint is Algorithm 40: the high bits of r, corrected by one step (mod
// m = (q − 1)/(2γ2)) towards r's low bits when the hint is set.
func useHint(hint bool, r, gamma2 int64) int64 {
	m := (mldsaQ - 1) / (2 * gamma2)
	r1, r0 := decompose(r, gamma2)
	switch {
	case hint && r0 > 0:
		return (r1 + 1) % m
	case hint:
		return (r1 - 1 + m) % m
	}
	return r1
}

// infinityNormBelow reports whether every coefficient of z (signed, as
// sigDecode returns them) has absolute value < bound.
func infinityNormBelow(z []mlPoly, bound int64) bool {
	for j := range z {
		for _, v := range z[j] {
			if v >= bound || -v >= bound {
				return false
			}
		}
	}
	return true
}

// modQ reduces x into [0, q).
func modQ(x int64) int64 {
	r := x % mldsaQ
	if r < 0 {
		r += mldsaQ
	}
	return r
}

// bitlen is the number of bits in the binary representation of x > 0.
func bitlen(x int64) int { return bits.Len64(uint64(x)) }
