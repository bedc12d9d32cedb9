import CKernels

// Products against a right operand packed once and used many times: the recurrent weights of a
// sequence, which every step multiplies with. BLAS's gemm repacks its operands on every call and
// blocks for large matrices; for the per-step shapes (tens of rows against hundreds or thousands of
// columns) that costs a sixth to a third of the time. Float on a CPU with AVX2 or AVX-512 packs
// the weights into 16-column panels for an own kernel (Sources/CKernels/wide.h, chosen by
// Tensor/Kernels.swift). Elsewhere (Double, other CPUs, `RNNKIT_ISA=portable`) the same calls go to
// BLAS with the operand as stored.

/// A right operand B (k, n) of repeated products `C += A · B`, packed on creation where the fast
/// kernel runs. It points at the caller's storage: use it only while that pointer is valid.
struct RepeatedOperand<Scalar: TensorScalar> {
    let k: Int, n: Int
    private let source: UnsafePointer<Scalar>
    private let ldb: Int
    private let transposed: Bool
    private let packed: [Float]?
    private let kernels: VectorKernels?

    /// B (k, n) is `b[p * ldb + j]`, or `b[j * ldb + p]` when `transposed` (the transpose of an
    /// (n, k) row-major matrix, like a weight matrix used as `h · Wᵀ`). `uses` is about how many
    /// products will follow: with one, packing would cost as much as it saves, so none is made
    /// (pass 2 to pack for one product that is split across cores). Large operands are packed on
    /// up to `threads` cores, a run of 16-column panels each.
    /// `kernels` is the build to use (the active path's by default; nil: BLAS).
    init(_ b: UnsafePointer<Scalar>, ldb: Int, transposed: Bool, k: Int, n: Int, uses: Int,
         threads: Int = parallelChunkLimit, kernels: VectorKernels? = VectorKernels.active) {
        precondition(k > 0 && n > 0 && ldb >= (transposed ? k : n), "bad operand shape")
        (self.k, self.n, self.source, self.ldb, self.transposed) = (k, n, b, ldb, transposed)
        if Scalar.self == Float.self, let kernels, uses > 1 {
            self.kernels = kernels
            var panels = [Float](unsafeUninitializedCapacity: rnnkit_packed_size(k, n)) { $1 = $0.count }
            let floats = UnsafeRawPointer(b).assumingMemoryBound(to: Float.self)
            panels.withUnsafeMutableBufferPointer { out in
                let out = out.baseAddress!
                // Pairs of panels are independent: a run of them packs like a narrower matrix.
                parallelRows((n + 31) / 32, minimumRows: max(1, 65_536 / (32 * k)), threads: threads) { run, _ in
                    let first = run.lowerBound * 32, columns = min(n, run.upperBound * 32) - first
                    rnnkit_pack(floats + (transposed ? first * ldb : first), ldb, transposed ? 1 : 0, k, columns,
                                out + first * k)
                }
            }
            packed = panels
        } else {
            (packed, self.kernels) = (nil, nil)
        }
    }

    /// Whether products run on the packed kernel.
    var isPacked: Bool { packed != nil }

    /// C (m, n) += A (m, k) · B, row strides lda and ldc; with `base` (n values), C's rows are set
    /// to `base + A · B` instead (their old values are not read).
    @inline(__always)
    func accumulate(m: Int, _ a: UnsafePointer<Scalar>, lda: Int, into c: UnsafeMutablePointer<Scalar>, ldc: Int,
                    base: UnsafePointer<Scalar>? = nil) {
        guard m > 0 else { return }
        if let packed, let kernels {
            packed.withUnsafeBufferPointer { panels in
                kernels.product(m, n, k, UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda,
                                panels.baseAddress!, base.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) },
                                UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc)
            }
        } else {
            if let base { for i in 0..<m { (c + i * ldc).update(from: base, count: n) } }
            Scalar.gemm(transposeA: false, transposeB: transposed, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                        b: source, ldb: ldb, beta: 1, c: c, ldc: ldc)
        }
    }
}

extension Float {
    /// `C (m, n) += A (m, k) · B` (or `C = base + A · B` with `base`) through a `RepeatedOperand`,
    /// the way the recurrent engine calls it, with `kernels` (nil: BLAS); returns whether the packed
    /// kernel ran. For the tests, which check every build against a Double product on shapes that hit
    /// every edge of its blocking.
    @_spi(Testing) public static func repeatedProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, transposed: Bool, c: UnsafeMutablePointer<Float>, ldc: Int,
        base: UnsafePointer<Float>? = nil, kernels: VectorKernels? = VectorKernels.active
    ) -> Bool {
        let operand = RepeatedOperand(b, ldb: ldb, transposed: transposed, k: k, n: n, uses: 2, kernels: kernels)
        operand.accumulate(m: m, a, lda: lda, into: c, ldc: ldc, base: base)
        return operand.isPacked
    }
}
