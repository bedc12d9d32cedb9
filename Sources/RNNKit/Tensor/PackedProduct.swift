import CKernels
import Foundation

// Products against a right operand packed once and used many times: the recurrent weights of a
// sequence, which every step multiplies with. BLAS's gemm repacks its operands on every call and
// blocks for large matrices; for the per-step shapes (tens of rows against hundreds or thousands of
// columns) that costs a sixth to a third of the time. Float on a CPU with AVX2 or AVX-512 packs
// the weights into 16-column panels for an own kernel (Sources/CKernels/wide.h, chosen by
// Tensor/Kernels.swift). Elsewhere (Double, other CPUs, `RNNKIT_ISA=portable`) the same calls go to
// BLAS with the operand as stored.

/// A right operand B (k, n) of repeated products `C += A · B`, packed on creation where the fast
/// kernel runs. Unpacked, it points at the caller's storage: use it only while that pointer is
/// valid. Packed, it holds its own copy, which `PackedStepCache` may keep across calls.
struct RepeatedOperand<Scalar: TensorScalar> {
    let k: Int, n: Int
    private enum Storage {
        case packed([Float], VectorKernels)  // 16-column panels for the packed kernel
        case stored(UnsafePointer<Scalar>, ldb: Int, transposed: Bool)  // the caller's B, for BLAS
    }
    private let storage: Storage

    /// B (k, n) is `b[p * ldb + j]`, or `b[j * ldb + p]` when `transposed` (the transpose of an
    /// (n, k) row-major matrix, like a weight matrix used as `h · Wᵀ`). `uses` is about how many
    /// products will follow: with one, packing would cost as much as it saves, so none is made
    /// (pass 2 to pack for one product that is split across cores). Large operands are packed on
    /// up to `threads` cores, a run of 16-column panels each.
    /// `kernels` is the build to use (the active path's by default; nil: BLAS).
    init(_ b: UnsafePointer<Scalar>, ldb: Int, transposed: Bool, k: Int, n: Int, uses: Int,
         threads: Int = parallelChunkLimit, kernels: VectorKernels? = VectorKernels.active) {
        precondition(k > 0 && n > 0 && ldb >= (transposed ? k : n), "bad operand shape")
        (self.k, self.n) = (k, n)
        if Scalar.self == Float.self, let kernels, uses > 1 {
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
            storage = .packed(panels, kernels)
        } else {
            storage = .stored(b, ldb: ldb, transposed: transposed)
        }
    }

    /// Whether products run on the packed kernel.
    var isPacked: Bool { if case .packed = storage { true } else { false } }

    /// C (m, n) += A (m, k) · B, row strides lda and ldc; with `base` (n values), C's rows are set
    /// to `base + A · B` instead (their old values are not read).
    @inline(__always)
    func accumulate(m: Int, _ a: UnsafePointer<Scalar>, lda: Int, into c: UnsafeMutablePointer<Scalar>, ldc: Int,
                    base: UnsafePointer<Scalar>? = nil) {
        guard m > 0 else { return }
        switch storage {
        case .packed(let packed, let kernels):
            packed.withUnsafeBufferPointer { panels in
                kernels.product(m, n, k, UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda,
                                panels.baseAddress!, base.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) },
                                UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc)
            }
        case .stored(let source, let ldb, let transposed):
            if let base { for i in 0..<m { (c + i * ldc).update(from: base, count: n) } }
            Scalar.gemm(transposeA: false, transposeB: transposed, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                        b: source, ldb: ldb, beta: 1, c: c, ldc: ldc)
        }
    }
}

extension RepeatedOperand {
    /// `accumulate` on A's rows split across up to `threads` cores (a run of at least `minimumRows`
    /// rows each): C (m, n) += A (m, k) · B, or C = base + A · B with `base`.
    func accumulate(rowsAcrossCores m: Int, _ a: UnsafePointer<Scalar>, lda: Int, into c: UnsafeMutablePointer<Scalar>,
                    ldc: Int, base: UnsafePointer<Scalar>? = nil, minimumRows: Int = 16, threads: Int) {
        parallelRows(m, minimumRows: minimumRows, threads: threads) { rows, _ in
            accumulate(m: rows.count, a + rows.lowerBound * lda, lda: lda, into: c + rows.lowerBound * ldc, ldc: ldc,
                       base: base)
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

/// An LSTM layer's weights packed for whole steps (`rnnkit_lstm_step`): the step product
/// `b + [x_t, h] · [W_ih, W_hh]ᵀ` and the cell in one pass, each register tile's gates (i, f, g, o
/// of the same 16 units) going straight into the cell instead of through a (B, 4H) block in memory
/// and a second pass over it. Inference reads x_t and h where they are, not copied side by side
/// first. Float with vector kernels only.
///
/// A layer reading tokens (`RecurrentLayer`'s token input) has F = 0 and an input table instead: row
/// `v` of it, (4H), is token v's x_t · W_ihᵀ, and each sample's step starts from the bias plus the
/// row of its token (`ids`).
@_spi(Testing) public struct PackedLSTMStep {
    let F: Int, H: Int
    private let panels: [Float]
    // 64 per 16 units: their i, f, g, o (w apart in a short last block), zeros past; one such row
    // per token, the token's table row added, when there is an input table.
    private let bias: [Float]
    private let biasRow: Int  // floats from one token's bias row to the next
    private let hasTable: Bool
    private let kernels: VectorKernels

    /// Packs W_ih (4H, F) and W_hh (4H, H), row-major, and the summed biases (4H), on up to
    /// `threads` cores, a run of 16-unit blocks each; with `inputTable` (`tokens` rows of 4H values,
    /// row-major), one bias row per token, the bias plus the token's row.
    public init(wih: UnsafePointer<Float>, whh: UnsafePointer<Float>, bias b: UnsafePointer<Float>, F: Int, H: Int,
                inputTable: UnsafePointer<Float>? = nil, tokens: Int = 0,
                threads: Int = computeThreads, kernels: VectorKernels) {
        precondition(F >= 0 && H > 0 && (inputTable == nil || tokens > 0), "bad LSTM shape")
        (self.F, self.H, self.kernels) = (F, H, kernels)
        let blocks = (H + 15) / 16
        panels = [Float](unsafeUninitializedCapacity: rnnkit_lstm_packed_size(F + H, H)) { out, count in
            let out = out.baseAddress!
            parallelRows(blocks, minimumRows: max(1, 16_384 / (64 * (F + H))), threads: threads) { run, _ in
                rnnkit_pack_lstm(wih, F, whh, H, run.lowerBound, run.count, out)
            }
            count = rnnkit_lstm_packed_size(F + H, H)
        }
        // Laid out like the packed columns: block u's gates side by side, w = min(16, H − 16u) apart.
        (biasRow, hasTable) = (blocks * 64, inputTable != nil)
        let rows = inputTable == nil ? 1 : tokens
        var bias = [Float](repeating: 0, count: rows * biasRow)
        for row in 0..<rows {
            let added = inputTable.map { $0 + row * 4 * H }
            for gate in 0..<4 {
                for unit in 0..<H {
                    let block = unit / 16, w = min(16, H - 16 * block), j = gate * H + unit
                    bias[row * biasRow + block * 64 + gate * w + unit % 16] = b[j] + (added?[j] ?? 0)
                }
            }
        }
        self.bias = bias
    }

    /// One inference step of `m` samples: from rows x (F values, `ldx` apart) and h (H values, `ldh`
    /// apart), updates their cells c in place and writes the new state to hOut and y (which may be
    /// one buffer, but not h's). With an input table, `ids` holds the m samples' tokens.
    @inline(__always)
    public func step(m: Int, x: UnsafePointer<Float>, ldx: Int, h: UnsafePointer<Float>, ldh: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, hOut: UnsafeMutablePointer<Float>, ldo: Int,
                     y: UnsafeMutablePointer<Float>, ldy: Int, ids: UnsafePointer<Int>? = nil) {
        run(m: m, k1: F, x, ldx, h, ldh, c: c, ldc: ldc, hOut: hOut, ldo: ldo, y: y, ldy: ldy, gates: nil, tanhC: nil,
            ids: ids)
    }

    /// One training step of `m` samples from their rows [x_t, h] (F + H values, `lda` apart, as the
    /// trace keeps them): as `step`, with the state written in place (h may be hOut: A is a copy),
    /// and the activated gates (m, 4H) and tanh(c) (m, H) recorded for the backward pass.
    @inline(__always)
    public func recordedStep(m: Int, rows a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                             hOut: UnsafeMutablePointer<Float>, ldo: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                             gates: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>,
                             ids: UnsafePointer<Int>? = nil) {
        run(m: m, k1: F + H, a, lda, a, lda, c: c, ldc: ldc, hOut: hOut, ldo: ldo, y: y, ldy: ldy, gates: gates, tanhC: tanhC,
            ids: ids)
    }

    @inline(__always)
    private func run(m: Int, k1: Int, _ a1: UnsafePointer<Float>, _ lda1: Int, _ a2: UnsafePointer<Float>, _ lda2: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, hOut: UnsafeMutablePointer<Float>, ldo: Int,
                     y: UnsafeMutablePointer<Float>, ldy: Int, gates: UnsafeMutablePointer<Float>?,
                     tanhC: UnsafeMutablePointer<Float>?, ids: UnsafePointer<Int>?) {
        guard m > 0 else { return }
        precondition((ids != nil) == hasTable, "token ids go with an input table")
        panels.withUnsafeBufferPointer { p in
            bias.withUnsafeBufferPointer { b in
                kernels.lstmStep(m, H, F + H, k1, a1, lda1, a2, lda2, p.baseAddress!, b.baseAddress!, ids, biasRow, c, ldc,
                                 hOut, ldo, y, ldy, gates, tanhC)
            }
        }
    }
}

/// A layer's packed weights kept across inference calls, one set per layer and direction (`slot`),
/// each with the versions of the weights it was packed from (`Variable.version`): the
/// `PackedLSTMStep`s of whole LSTM steps (packing had cost 1.5% of an inference call of LSTM 256 × 2
/// or the char model), and the `RepeatedOperand`s of the other paths (the projected input's W_ih and
/// the steps' W_hh of a small batch or a GRU, each core's rows of a unit split), which packing anew
/// on every call had made 10% of LSTM 256 × 2's inference at batch 8 (AMD EPYC, Zen 5, 2 cores).
/// Safe to use from several threads at once (a layer may serve more than one caller, and its
/// directions run side by side).
final class PackedStepCache: @unchecked Sendable {
    private var entries: [Int: (versions: [Int], table: [Float]?, packed: PackedLSTMStep)] = [:]
    private var operands: [OperandKey: (versions: [Int], operand: RepeatedOperand<Float>)] = [:]
    private let lock = NSLock()

    /// Which of a layer's repeated operands a kept packing is.
    enum OperandRole: Hashable {
        case inputWeights                        // W_ihᵀ of the projection X · W_ihᵀ
        case stepWeights                         // the steps' W_hhᵀ, or [W_ih, W_hh]ᵀ where fused
        case unitWeights(first: Int, count: Int) // a unit split core's rows of the step weights
    }
    private struct OperandKey: Hashable { let slot: Int, role: OperandRole, k: Int, n: Int }

    /// The packed weights of `slot` made from weights at `versions` (and from the token table
    /// `table`, compared by value: it is made from another layer's weights): the kept ones when they
    /// match, else `make()`'s, kept for the next call.
    func packed<Scalar: TensorScalar>(slot: Int, versions: [Int], table: Tensor<Scalar>?,
                                      make: () -> PackedLSTMStep) -> PackedLSTMStep {
        precondition(Scalar.self == Float.self, "packed steps are Float")
        let values = table.map { unsafeBitCast($0.scalars, to: [Float].self) }
        lock.lock()
        let kept = entries[slot]
        lock.unlock()
        if let kept, kept.versions == versions, kept.table == values { return kept.packed }
        let packed = make()
        lock.lock()
        entries[slot] = (versions, values, packed)
        lock.unlock()
        return packed
    }

    /// The operand `role` (k, n) of `slot` made from weights at `versions`: the kept one when they
    /// match, else `make()`'s, kept for the next call when it is packed (an unpacked operand points
    /// at its caller's storage, so it is never kept).
    func operand<Scalar: TensorScalar>(slot: Int, role: OperandRole, k: Int, n: Int, versions: [Int],
                                       make: () -> RepeatedOperand<Scalar>) -> RepeatedOperand<Scalar> {
        guard Scalar.self == Float.self else { return make() }
        let key = OperandKey(slot: slot, role: role, k: k, n: n)
        lock.lock()
        let kept = operands[key]
        lock.unlock()
        if let kept, kept.versions == versions, let operand = kept.operand as? RepeatedOperand<Scalar> { return operand }
        let operand = make()
        precondition(operand.k == k && operand.n == n, "the operand made is not the one named")
        if operand.isPacked, let floats = operand as? RepeatedOperand<Float> {
            lock.lock()
            operands[key] = (versions, floats)
            lock.unlock()
        }
        return operand
    }
}
