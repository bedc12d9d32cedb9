import Foundation
import RealModule

// Element-wise activations over whole buffers, the hot part of a recurrent step besides the
// matrix products. Float runs vector approximations: the C kernels of the active path
// (Tensor/Kernels.swift: 16 lanes with AVX-512, 8 with AVX2 + FMA; sigmoid through Cephes' expf
// polynomial, relative error about 1e-7, tanh a rational fit within 3.1e-7, CKernels.h), else Cephes'
// single-precision polynomials for both (relative error about 1e-7, like libm's expf/tanhf) in Swift
// SIMD8 (SSE on x86-64, NEON on ARM). Double keeps the libm functions, so the finite-difference
// gradient checks see exactly the functions they differentiate.

/// Activations applied in place to `count` contiguous elements.
public protocol BufferActivations {
    /// x ← 1 / (1 + e^(−x)).
    static func sigmoid(_ x: UnsafeMutablePointer<Self>, count: Int)
    /// x ← tanh(x).
    static func tanh(_ x: UnsafeMutablePointer<Self>, count: Int)
}

extension Double: BufferActivations {
    public static func sigmoid(_ x: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count { x[i] = 1 / (1 + Double.exp(-x[i])) }
    }
    public static func tanh(_ x: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count { x[i] = Double.tanh(x[i]) }
    }
}

/// The active path's C kernels (nil: portable), read once: the activations and the engine's cell
/// updates call them on every step.
let vectorKernels = VectorKernels.active

extension Float: BufferActivations {
    public static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if let vectorKernels { return vectorKernels.sigmoid(x, count) }
        portableSigmoid(x, count: count)
    }
    public static func tanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if let vectorKernels { return vectorKernels.tanh(x, count) }
        portableTanh(x, count: count)
    }

    /// sigmoid through one build of the C kernels, for the tests.
    @_spi(Testing) public static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int, kernels: VectorKernels) {
        kernels.sigmoid(x, count)
    }
    /// tanh through one build of the C kernels, for the tests.
    @_spi(Testing) public static func tanh(_ x: UnsafeMutablePointer<Float>, count: Int, kernels: VectorKernels) {
        kernels.tanh(x, count)
    }

    /// The portable eight-lane path (any CPU); `sigmoid` uses it on the portable path.
    @_spi(Testing) public static func portableSigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) {
        VectorMath.apply(VectorMath.sigmoid, to: x, count: count)
    }

    /// The portable eight-lane path (any CPU); `tanh` uses it on the portable path.
    @_spi(Testing) public static func portableTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        VectorMath.apply(VectorMath.tanh, to: x, count: count)
    }
}

/// Eight-lane single-precision exp, sigmoid and tanh after Cephes (`expf`, `tanhf`).
enum VectorMath {
    /// x ← f(x) eight lanes at a time; the last `count % 8` elements go through a padded vector.
    @inline(__always)
    static func apply(_ f: (SIMD8<Float>) -> SIMD8<Float>, to x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            store(f(load(x + i)), x + i)
            i += 8
        }
        if i < count {
            var tail = SIMD8<Float>(repeating: 0)
            for k in 0..<(count - i) { tail[k] = x[i + k] }
            tail = f(tail)
            for k in 0..<(count - i) { x[i + k] = tail[k] }
        }
    }

    // Lane by lane, which the optimiser turns into one vector load or store (a typed SIMD8 load
    // would need 32-byte alignment; a raw unaligned load goes through a byte-wise copy).
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        SIMD8(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
    }
    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { load(UnsafePointer(p)) }
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        p[0] = v[0]; p[1] = v[1]; p[2] = v[2]; p[3] = v[3]; p[4] = v[4]; p[5] = v[5]; p[6] = v[6]; p[7] = v[7]
    }

    @inline(__always)
    static func exp(_ input: SIMD8<Float>) -> SIMD8<Float> {
        // e^x = 2^n · e^r with n = round(x / ln 2), |r| ≤ ln 2 / 2, e^r from a degree-6 polynomial.
        // Clamped with compares and selects, which inline (`clamped` calls generic min/max).
        // The upper clamp, e^88 = 1.65e38, keeps 2^n finite with one scaling; above it only sigmoid(−x)
        // and tanh's exp(2|x|) call this, and both are then already at their limits.
        let low = SIMD8<Float>(repeating: -87.33654), high = SIMD8<Float>(repeating: 88)
        let x = input.replacing(with: low, where: input .< low).replacing(with: high, where: input .> high)
        let shifter = SIMD8<Float>(repeating: 12582912)  // 1.5 · 2^23: adding it rounds to an integer
        let shifted = x * 1.44269504088896341 + shifter
        let n = shifted - shifter
        let r = x - n * 0.693359375 - n * -2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        // 2^n, n ∈ [−126, 127], from the exponent bits. `shifted` holds n in its low mantissa bits, so
        // its bit pattern minus the shifter's is n: no float-to-integer conversion (Swift does that
        // lane by lane).
        let bias = SIMD8<Int32>(repeating: 0x4B40_0000 - 127)
        let scale = unsafeBitCast((unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- bias) &<< 23, to: SIMD8<Float>.self)
        return (p * scale).replacing(with: input, where: input .!= input)  // NaN stays NaN
    }

    @inline(__always)
    static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 / (1 + exp(-x))
    }

    @inline(__always)
    static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // |x| < 0.625: x + x³·P(x²); otherwise 1 − 2 / (e^(2|x|) + 1) with x's sign.
        let negative = x .< 0
        let a = x.replacing(with: -x, where: negative)
        let z = x * x
        var p = SIMD8<Float>(repeating: -5.70498872745e-3)
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        let small = p * z * x + x
        let large = 1 - 2 / (exp(a + a) + 1)
        let signed = large.replacing(with: -large, where: negative)
        return signed.replacing(with: small, where: a .< 0.625).replacing(with: x, where: x .!= x)
    }
}
