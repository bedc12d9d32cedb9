import RealModule

// The sequence engine: one layer, one direction, a whole (T, B, F) batch per call.
//
// Shape letters: T steps, B batch, F input features of this layer, H hidden units, g gates
// (1 simple RNN, 4 LSTM in order i f g o, 3 GRU in order r z n), gH = g·H.
// Inside the engine everything is time-major, so step t of the batch is one contiguous (B, ·) block.
//
// Forward (LSTM, simple RNN): per step one product [x_t, h]·[W_ih, W_hh]ᵀ onto the biases, with the
// weights packed once per call (RepeatedOperand; inference keeps them across calls, PackedStepCache),
// and one fused pass of gate arithmetic; on the vector
// kernels an LSTM split by samples runs both as one kernel per step (PackedLSTMStep). The GRU
// computes X·W_ihᵀ for all steps first and h·W_hhᵀ apart per step (its n gate takes it through r);
// so does inference of the others on small batches with wide inputs. Batches too small to spread
// by samples split each step's hidden units across the cores instead (StepSplit), forward and backward.
// Backward walks the same steps in reverse, one product dG·W_hh per step, and computes the weight
// gradients with products over the whole sequence (for LSTM and simple RNN one, dGᵀ·[X, H, 1], on
// the rows the forward pass kept). No allocation happens inside the time loop.
//
// Variable lengths (TF dynamic_rnn): sample b is active at step t iff t < lengths[b], in both
// directions. Inactive steps output zero and leave the state alone, so the forward direction ends
// on the state after the last valid step and the reverse direction starts on the valid prefix.

/// The four parameters of one layer and direction, PyTorch's layout.
struct CellWeights<Scalar: TensorScalar> {
    var wih: Tensor<Scalar>  // (gH, F)
    var whh: Tensor<Scalar>  // (gH, H)
    var bih: Tensor<Scalar>  // (gH)
    var bhh: Tensor<Scalar>  // (gH)

    /// Sets every weight gradient of an LSTM or simple RNN layer (whose dG_ih and dG_hh are the same
    /// dG) from one product over all `rows` = T·B rows: [dW_ih, dW_hh, db] (gH, F + H + 1) =
    /// dGᵀ · [X, H_prev, 1], with dG (rows, gH) and `stepInputs` (rows, F + H + 1) as the trace keeps
    /// them. Both bias gradients get the last column.
    ///
    /// On oneDNN, from 1024 gate rows (LSTM from 256 units) and 2048 rows, the product runs the
    /// other way round, [X, H_prev, 1]ᵀ · dG (F + H + 1, gH), and is transposed into place. Measured with
    /// `benchmarks/products.py`'s shapes on AMD EPYC (Zen 5, AVX-512), 2 threads: oneDNN's sgemm ran
    /// that orientation 4–20% faster for the char model's layers (399–411 → 481–483 and 466 →
    /// 493–498 GFLOP/s) and LSTM 256 × 2's (399–428 → 417–455 and 394–404 → 469–480), and within 2%
    /// for LSTM 128's and LSTM 100's, where the transposition then made training 2% slower. At
    /// batch 8 (224 and 800 rows) the transposition costs as much as the product, and LSTM 256 × 2
    /// trained 12% slower. OpenBLAS
    /// ran both orientations within 4%. (BLAS also measured faster here than packing [X, H_prev, 1]
    /// for the step kernel, which it is used in only once.)
    mutating func setFromStepInputProduct(dG: Tensor<Scalar>, stepInputs: Tensor<Scalar>, rows: Int, F: Int, H: Int,
                                          threads: Int) {
        let gH = wih.shape[0], XW = F + H + 1
        let flipped = Scalar.self == Float.self && ProductLibrary.active == .onednn && gH >= 1024 && rows >= 2048
        var combined = Tensor<Scalar>(unfilled: flipped ? [XW, gH] : [gH, XW])
        dG.withUnsafeBufferPointer { dg in
            stepInputs.withUnsafeBufferPointer { si in
                combined.withUnsafeMutableBufferPointer { cb in
                    if flipped {
                        Scalar.parallelGemm(transposeA: true, transposeB: false, m: XW, n: gH, k: rows,
                                            alpha: 1, a: si.baseAddress!, lda: XW, b: dg.baseAddress!, ldb: gH,
                                            beta: 0, c: cb.baseAddress!, ldc: gH, threads: threads)
                    } else {
                        Scalar.parallelGemm(transposeA: true, transposeB: false, m: gH, n: XW, k: rows,
                                            alpha: 1, a: dg.baseAddress!, lda: gH, b: si.baseAddress!, ldb: XW,
                                            beta: 0, c: cb.baseAddress!, ldc: XW, threads: threads)
                    }
                }
            }
        }
        combined.withUnsafeBufferPointer { cb in
        wih.withUnsafeMutableBufferPointer { dwi in
        whh.withUnsafeMutableBufferPointer { dwh in
        bih.withUnsafeMutableBufferPointer { dbi in
        bhh.withUnsafeMutableBufferPointer { dbh in
            let (c, dwi, dwh) = (cb.baseAddress!, dwi.baseAddress!, dwh.baseAddress!)
            if flipped {
                // Rows of the gradients split across the cores: columns of the product.
                let (dbi, dbh) = (dbi.baseAddress!, dbh.baseAddress!)
                parallelRows(gH, minimumRows: 64, threads: threads) { range, _ in
                    let r0 = range.lowerBound
                    transposeBlock(c + r0, lda: gH, rows: F, columns: range.count, into: dwi + r0 * F, ldb: F)
                    transposeBlock(c + F * gH + r0, lda: gH, rows: H, columns: range.count, into: dwh + r0 * H, ldb: H)
                    (dbi + r0).update(from: c + (F + H) * gH + r0, count: range.count)
                    (dbh + r0).update(from: c + (F + H) * gH + r0, count: range.count)
                }
            } else {
                for r in 0..<gH {
                    let row = c + r * XW
                    (dwi + r * F).update(from: row, count: F)
                    (dwh + r * H).update(from: row + F, count: H)
                    dbi[r] = row[F + H]
                    dbh[r] = row[F + H]
                }
            }
        }}}}}
    }
}

/// b (columns, rows) = aᵀ for a (rows, columns), row strides `lda` and `ldb`, in blocks of 8 rows ×
/// 32 columns: both sides are read and written a cache line at a time, and 8 rows of a
/// power-of-two stride stay within an L1 set's ways (16 × 16 blocks ran 0.35–0.45 ns an element,
/// 8 × 32 0.26, on AMD EPYC Zen 5 for the char model's shapes).
func transposeBlock<Scalar>(_ a: UnsafePointer<Scalar>, lda: Int, rows: Int, columns: Int,
                            into b: UnsafeMutablePointer<Scalar>, ldb: Int) {
    for i0 in stride(from: 0, to: rows, by: 8) {
        let i1 = min(i0 + 8, rows)
        for j0 in stride(from: 0, to: columns, by: 32) {
            for j in j0..<min(j0 + 32, columns) {
                for i in i0..<i1 { b[j * ldb + i] = a[i * lda + j] }
            }
        }
    }
}

/// What the forward pass of one direction keeps for its backward pass.
struct DirectionTrace<Scalar: TensorScalar> {
    var gates: Tensor<Scalar>        // (T, B, gH) gate activations (simple RNN: h itself)
    var stepInputs: Tensor<Scalar>?  // (T, B, F + H + 1) [x_t, h before step t, 1], LSTM and simple RNN
    var hPrev: Tensor<Scalar>?       // (T, B, H) state before step t, GRU
    var cPrev: Tensor<Scalar>?       // (T, B, H) LSTM cell before step t
    var tanhC: Tensor<Scalar>?       // (T, B, H) LSTM tanh(c) after step t
    var hiddenN: Tensor<Scalar>?     // (T, B, H) GRU W_hn·h + b_hn at step t
}

struct DirectionResult<Scalar: TensorScalar> {
    var h: [Scalar]                  // (B, H) final state
    var c: [Scalar]?                 // (B, H) final LSTM cell
    var trace: DirectionTrace<Scalar>?
}

struct DirectionGradients<Scalar: TensorScalar> {
    var dx: Tensor<Scalar>?          // (T, B, F); nil when not asked for
    var weights: CellWeights<Scalar> // gradients in the weights' layout
    var dh0: [Scalar]                // (B, H)
    var dc0: [Scalar]?               // (B, H)
    var dTable: Tensor<Scalar>? = nil // (V, gH) with token input: each token's rows of dG_ih summed
}

/// Where one direction's (T, B, H) output, or its gradient, sits inside the layer's tensor: the
/// row of step t and sample b starts `t * time + b * sample` floats after the direction's first
/// unit. The layer's directions share one tensor, side by side along the features (the second
/// starts H after the first), time-major (T, B, D·H) between layers and batch-first (B, T, D·H) as
/// the stack's result, so that neither is copied into place afterwards.
struct StepRows: Equatable {
    var time: Int, sample: Int
    /// (T, B, width) rows.
    static func timeMajor(batch: Int, width: Int) -> StepRows { StepRows(time: batch * width, sample: width) }
    /// (B, T, width) rows.
    static func batchFirst(steps: Int, width: Int) -> StepRows { StepRows(time: width, sample: steps * width) }
    @inline(__always) func offset(t: Int, b: Int) -> Int { t * time + b * sample }
}

/// Calls `body` with the tensor's element pointer, or with nil when there is no tensor.
@inline(__always)
func withOptionalBuffer<S: TensorScalar, R>(_ tensor: Tensor<S>?, _ body: (UnsafePointer<S>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// `body` with a pointer to `array`'s elements, or nil.
func withOptionalBuffer<R>(_ array: [Int]?, _ body: (UnsafePointer<Int>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// A layer's input given as tokens (`RecurrentLayer`'s token input): sample b's input part at step
/// t, x_t · W_ihᵀ, is row ids[t·B + b] of `table`, so that the step product multiplies h alone.
struct TokenRows<Scalar: TensorScalar> {
    var ids: [Int]             // (T, B), time-major, each in 0..<V
    var table: Tensor<Scalar>  // (V, gH)
}

@inline(__always) private func sigmoid<S: TensorScalar>(_ x: S) -> S { 1 / (1 + S.exp(-x)) }

enum RecurrentEngine<Scalar: TensorScalar> {

    // MARK: forward

    /// Inference projects the inputs of all steps at once (instead of the fused step product) for
    /// batches under `projectBelowBatch` samples whose layer input is at least `projectFromInputs` wide.
    static var projectBelowBatch: Int { 32 }
    static var projectFromInputs: Int { 64 }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func forward(
        cell: RecurrentCell, forgetBias: Scalar, reverse: Bool,
        input x: Tensor<Scalar>,          // (T, B, F)
        weights w: CellWeights<Scalar>,
        h0: [Scalar], c0: [Scalar]?,      // (B, H)
        lengths: [Int],                   // (B)
        record: Bool,
        output: UnsafeMutablePointer<Scalar>, outputRows: StepRows,  // where y (T, B, H) goes, every value written
        threads: Int = parallelChunkLimit,  // cores this call may use
        split: StepSplit = .automatic,      // how each step is divided among the cores
        pool: StepPool? = nil,              // shared with the other direction, whose cores may help with this one
        packedSteps: (cache: PackedStepCache, slot: Int, versions: [Int])? = nil,  // where inference keeps packed weights
        tokens: TokenRows<Scalar>? = nil    // the input as tokens: x is then (T, B, 0) and W_ih (gH, 0)
    ) -> DirectionResult<Scalar> {
        let (T, B, F) = (x.shape[0], x.shape[1], x.shape[2])
        let gH = w.whh.shape[0], H = w.whh.shape[1]
        let isGRU = cell == .gru, isLSTM = cell == .lstm
        precondition(tokens == nil || (F == 0 && tokens!.ids.count == T * B && tokens!.table.shape[1] == gH),
                     "token rows need an input of no features")

        // LSTM and simple RNN fuse the two products of a step into one, [x_t, h] · [W_ih, W_hh]ᵀ
        // (k = F + H), written straight onto the step's gates, instead of precomputing X·W_ihᵀ for every
        // step (a skinny product: k = F is 28 for the image rows, where BLAS ran at about half the
        // speed of the step kernel). Inference then needs only one step's gates, (B, gH), which stay in
        // cache; training keeps all of them, (T, B, gH), for the backward pass. Measured faster or as
        // fast on every benchmark shape. The GRU precomputes: its n gate needs W_hn·h apart.
        //
        // Inference on a small batch projects instead, as the GRU does, where the input is wide: with
        // few rows per step, the step product streams its weights from memory for little arithmetic,
        // and [W_ih, W_hh] is more to stream than W_hh alone, while X·W_ihᵀ for all steps at once
        // streams W_ih once. Measured on AMD EPYC (AVX2), 2 cores: the char model (LSTM 512 × 2)
        // +16% at batch 8 and +14% at 16, LSTM 256 × 2 +35% and +21%; at batch 32 and up, slower.
        var projected = !isGRU && !record && T > 1 && F >= projectFromInputs && B < projectBelowBatch
        let FH = F + H
        // Small batches may split each step's units across the cores instead of the samples (StepSplit).
        let unitRanges = split.unitRanges(
            H: H, stepFLOPs: 2 * B * gH * (isGRU || projected ? H : FH), batch: B, steps: T, threads: threads,
            packed: Scalar.self == Float.self && VectorKernels.active != nil,
            wideWeights: !record && KernelISA.active == .avx512)
        // The LSTM split by samples on the vector kernels runs whole steps, product and cell in one
        // kernel (PackedLSTMStep). Inference then keeps no gate block and no [x_t, h] rows, h
        // alternating between two buffers; training records the activated gates straight from it.
        let wholeSteps = isLSTM && !projected && unitRanges == nil && Scalar.self == Float.self
            && VectorKernels.active != nil
        // Tokens: the whole-step kernel starts each sample's gates from its token's bias row; every
        // other path gathers the bias plus the tokens' rows for all steps first and adds h · W_hhᵀ
        // to them, as a projected input does (training too: the trace then keeps h, as the GRU's).
        if tokens != nil && !isGRU && !wholeSteps { projected = true }
        let fused = !isGRU && !projected
        // Gates: b_ih + b_hh + the products (the GRU's b_hn sits inside r ⊙ (·), so it gets b_ih only).
        let gatesPerStep = record || !fused  // one (B, gH) block per step, else one block reused
        // Every buffer below is written in full, step by step, before it is read.
        var gates = Tensor<Scalar>(unfilled: gatesPerStep ? [T, B, gH] : wholeSteps ? [0] : [B, gH])
        var fusedInput = [Scalar](unfilled: fused && !record && !wholeSteps ? B * FH : 0)  // (B, F + H) [x_t, h] of a step
        var fusedWeights = [Scalar](unfilled: fused && !wholeSteps ? gH * FH : 0)  // (gH, F + H) [W_ih, W_hh]
        var nextState = [Scalar](unfilled: wholeSteps && !record ? B * H : 0)  // whole steps: h after the even steps
        var biasSum = [Scalar](repeating: 0, count: gH)                          // b_ih + b_hh (+ forget bias)
        w.bih.withUnsafeBufferPointer { bih in
            w.bhh.withUnsafeBufferPointer { bhh in
                for j in 0..<gH { biasSum[j] = bih[j] + bhh[j] }
                if isLSTM { for j in H..<(2 * H) { biasSum[j] += forgetBias } }  // TF1's forget bias, with the others
            }
        }
        var fusedReady = false  // fusedWeights assembled (when a packing needs them: inference may have it kept)
        // Training keeps each step's [x_t, h, 1] rows (fused cells) or h (GRU) for the weight gradients.
        let XW = FH + 1
        var stepInputs = Tensor<Scalar>(unfilled: record && fused ? [T, B, XW] : [0])
        var hPrev = Tensor<Scalar>(unfilled: record && !fused ? [T, B, H] : [0])
        var cPrev = Tensor<Scalar>(unfilled: record && isLSTM ? [T, B, H] : [0])
        var side = Tensor<Scalar>(unfilled: record && (isLSTM || isGRU) ? [T, B, H] : [0])  // tanh(c) or W_hn·h + b_hn
        var h = h0, c = c0 ?? []
        var hw = [Scalar](unfilled: isGRU ? B * gH : 1)  // GRU: (B, gH) h · W_hhᵀ + b_hh of one step (else unused)
        var scratchBuffer = [Scalar](repeating: 0, count: wholeSteps ? 0 : parallelChunkLimit * H)  // tanh(c) of one sample per chunk when not recording

        // Inference keeps the packed operands below while the weights stay the same (packedSteps);
        // training changes them every step.
        func kept(_ role: PackedStepCache.OperandRole, k: Int, n: Int,
                  _ make: () -> RepeatedOperand<Scalar>) -> RepeatedOperand<Scalar> {
            guard !record, let packedSteps else { return make() }
            return packedSteps.cache.operand(slot: packedSteps.slot, role: role, k: k, n: n,
                                             versions: packedSteps.versions, make: make)
        }

        if let tokens, !fused { gates.withUnsafeMutableBufferPointer { g in
            tokens.table.withUnsafeBufferPointer { table in
                (projected ? biasSum : w.bih.scalars).withUnsafeBufferPointer { base in
                    // G (T·B, gH) = base + each step's token row, rows split across the cores.
                    let (g, table, base) = (g.baseAddress!, table.baseAddress!, base.baseAddress!)
                    parallelRows(T * B, minimumRows: 64, threads: threads) { rows, _ in
                        for r in rows {
                            let row = table + tokens.ids[r] * gH, out = g + r * gH
                            for j in 0..<gH { out[j] = base[j] + row[j] }
                        }
                    }
                }
            }
        } } else if !fused { gates.withUnsafeMutableBufferPointer { g in
            x.withUnsafeBufferPointer { x in
                w.wih.withUnsafeBufferPointer { wih in
                    (projected ? biasSum : w.bih.scalars).withUnsafeBufferPointer { bih in
                        // G (T·B, gH) = b_ih + X · W_ihᵀ, rows split across the cores.
                        let inputWeights = kept(.inputWeights, k: F, n: gH) {
                            RepeatedOperand(wih.baseAddress!, ldb: F, transposed: true, k: F, n: gH, uses: T, threads: threads)
                        }
                        inputWeights.accumulate(rowsAcrossCores: T * B, x.baseAddress!, lda: F, into: g.baseAddress!,
                                                ldc: gH, base: bih.baseAddress!, threads: threads)
                    }
                }
            }
        } }

        gates.withUnsafeMutableBufferPointer { gBuf in
        hPrev.withUnsafeMutableBufferPointer { hpBuf in
        stepInputs.withUnsafeMutableBufferPointer { siBuf in
        cPrev.withUnsafeMutableBufferPointer { cpBuf in
        side.withUnsafeMutableBufferPointer { sBuf in
        h.withUnsafeMutableBufferPointer { hBuf in
        c.withUnsafeMutableBufferPointer { cBuf in
        hw.withUnsafeMutableBufferPointer { hwBuf in
        scratchBuffer.withUnsafeMutableBufferPointer { scratchBuf in
        w.whh.withUnsafeBufferPointer { whh in
        w.bhh.withUnsafeBufferPointer { bhh in
        x.withUnsafeBufferPointer { xBuf in
        fusedInput.withUnsafeMutableBufferPointer { xhBuf in
        fusedWeights.withUnsafeMutableBufferPointer { wcBuf in
        biasSum.withUnsafeBufferPointer { biasBuf in
        nextState.withUnsafeMutableBufferPointer { nextBuf in
            let h = hBuf.baseAddress!, hw = hwBuf.baseAddress!
            // [W_ih, W_hh] (gH, F + H) of a fused cell, assembled on first use.
            let wc = wcBuf.baseAddress
            func fusedRows() -> UnsafePointer<Scalar> {
                let wc = wc!
                if !fusedReady {
                    w.wih.withUnsafeBufferPointer { wih in
                        for r in 0..<gH {
                            (wc + r * FH).update(from: wih.baseAddress! + r * F, count: F)
                            (wc + r * FH + F).update(from: whh.baseAddress! + r * H, count: H)
                        }
                    }
                    fusedReady = true
                }
                return UnsafePointer(wc)
            }
            func stepRowsOfWeights() -> UnsafePointer<Scalar> { fused ? fusedRows() : whh.baseAddress! }
            if let unitRanges, forwardSplitByUnits(
                cell: cell, reverse: reverse, cores: unitRanges, T: T, B: B, F: fused ? F : 0, H: H, gH: gH,
                x: xBuf.baseAddress!, weights: stepRowsOfWeights,
                bias: fused ? biasBuf.baseAddress! : isGRU ? bhh.baseAddress! : nil,
                inputGates: fused ? nil : gBuf.baseAddress!, lengths: lengths, output: output, outputRows: outputRows,
                h: h, c: isLSTM ? cBuf.baseAddress! : nil,
                trace: record ? TracePointers(gates: gBuf.baseAddress!, stepInputs: fused ? siBuf.baseAddress! : nil,
                                              hPrev: fused ? nil : hpBuf.baseAddress!, cPrev: isLSTM ? cpBuf.baseAddress! : nil,
                                              side: isLSTM || isGRU ? sBuf.baseAddress! : nil) : nil,
                threads: threads, kept: kept) {
                return  // done by units; else (no threads to be had) by samples below
            }
            if wholeSteps {
                func pack() -> PackedLSTMStep {
                    w.wih.withUnsafeBufferPointer { wih in
                        withOptionalBuffer(tokens?.table) { table in
                            PackedLSTMStep(wih: floats(F > 0 ? wih.baseAddress! : whh.baseAddress!),
                                           whh: floats(whh.baseAddress!), bias: floats(biasBuf.baseAddress!), F: F, H: H,
                                           inputTable: table.map(floats), tokens: tokens?.table.shape[0] ?? 0,
                                           threads: threads, kernels: VectorKernels.active!)
                        }
                    }
                }
                // Inference keeps them while the weights (and a token table) stay the same; training
                // changes them every step.
                let lstm = record ? pack() : packedSteps.map {
                    $0.cache.packed(slot: $0.slot, versions: $0.versions, table: tokens?.table, make: pack)
                } ?? pack()
                // Inference: step s reads h from states[s % 2] and writes the other. Training: the rows
                // [x_t, h, 1] go to the trace first, and the kernel reads them there, so h is updated in
                // place. Each sample's steps run in order, on whichever core has them (StepPool), as below.
                let states = [h, record ? h : nextBuf.baseAddress!], cells = cBuf.baseAddress!, xs = xBuf.baseAddress!
                let gates = gBuf.baseAddress!, sides = sBuf.baseAddress, cPrevs = cpBuf.baseAddress, traceRows = siBuf.baseAddress
                withOptionalBuffer(tokens?.ids) { tokenIDs in  // each sample's token at each step, or nil
                StepPool.run(rows: B, steps: T, minimumRows: stepMinimumRows, threads: threads, splittable: true,
                             pool: pool) { rows, s, _ in
                    let t = reverse ? T - 1 - s : s
                    let hIn = states[s % 2], hOut = states[1 - s % 2]
                    let xt = xs + t * B * F, stepRows = record ? traceRows! + t * B * XW : nil
                    if let stepRows {
                        for b in rows {
                            (stepRows + b * XW).update(from: xt + b * F, count: F)
                            (stepRows + b * XW + F).update(from: h + b * H, count: H)
                            stepRows[b * XW + FH] = 1
                        }
                        (cPrevs! + t * B * H + rows.lowerBound * H)
                            .update(from: cells + rows.lowerBound * H, count: rows.count * H)
                    }
                    var b = rows.lowerBound
                    while b < rows.upperBound {
                        var end = b
                        while end < rows.upperBound && t < lengths[end] { end += 1 }
                        let y = output + outputRows.offset(t: t, b: b)
                        if end > b, let stepRows {  // a run of samples still going
                            lstm.recordedStep(m: end - b, rows: floats(UnsafePointer(stepRows + b * XW)), lda: XW,
                                              c: floats(cells + b * H), ldc: H, hOut: floats(h + b * H), ldo: H,
                                              y: floats(y), ldy: outputRows.sample,
                                              gates: floats(gates + (t * B + b) * gH),
                                              tanhC: floats(sides! + (t * B + b) * H), ids: tokenIDs.map { $0 + t * B + b })
                            b = end
                        } else if end > b {
                            lstm.step(m: end - b, x: floats(xt + b * F), ldx: F, h: floats(UnsafePointer(hIn + b * H)),
                                      ldh: H, c: floats(cells + b * H), ldc: H, hOut: floats(hOut + b * H), ldo: H,
                                      y: floats(y), ldy: outputRows.sample, ids: tokenIDs.map { $0 + t * B + b })
                            b = end
                        } else {  // past this sample's end: zero output (and trace), state kept
                            if hOut != hIn { (hOut + b * H).update(from: hIn + b * H, count: H) }
                            y.initialize(repeating: 0, count: H)
                            if record {
                                (sides! + (t * B + b) * H).initialize(repeating: 0, count: H)
                                (gates + (t * B + b) * gH).initialize(repeating: 0, count: gH)
                            }
                            b += 1
                        }
                    }
                }
                }  // tokenIDs
                return
            }
            // The step product's right operand, packed once for all T steps and both chunks.
            let stepWeights = kept(.stepWeights, k: fused ? FH : H, n: gH) {
                fused
                    ? RepeatedOperand(fusedRows(), ldb: FH, transposed: true, k: FH, n: gH, uses: T, threads: threads)
                    : RepeatedOperand(whh.baseAddress!, ldb: H, transposed: true, k: H, n: gH, uses: T, threads: threads)
            }
            // Each sample's steps run in order, on whichever core has them: the cores start on shares of
            // the batch, and one that runs out takes half of another's samples (StepPool).
            let gates = gBuf.baseAddress!, hPrevs = hpBuf.baseAddress, stepRows = siBuf.baseAddress
            let cPrevs = cpBuf.baseAddress, sides = sBuf.baseAddress, cells = cBuf.baseAddress
            let scratchAll = scratchBuf.baseAddress!, fusedRows = xhBuf.baseAddress, xs = xBuf.baseAddress!
            let bias = biasBuf.baseAddress!, bhh = bhh.baseAddress!
            StepPool.run(rows: B, steps: T, minimumRows: stepMinimumRows, threads: threads, splittable: stepWeights.isPacked,
                         pool: pool) { rows, s, worker in
                let scratch = scratchAll + worker * H
                let (b0, n) = (rows.lowerBound, rows.count)
                let t = reverse ? T - 1 - s : s
                let gt = gates + (gatesPerStep ? t * B * gH : 0)
                if record {
                    if !fused { (hPrevs! + t * B * H + b0 * H).update(from: h + b0 * H, count: n * H) }
                    if isLSTM { (cPrevs! + t * B * H + b0 * H).update(from: cells! + b0 * H, count: n * H) }
                }
                // The step's product for these rows: onto the biases as the gates' pre-activations,
                // except for the GRU's h · W_hhᵀ, which its n gate needs apart (hw = h · W_hhᵀ + b_hh).
                if fused {
                    // gates (n, gH) = b + [x_t, h] · [W_ih, W_hh]ᵀ; the rows [x_t, h] are assembled in the
                    // trace when training (with a 1 after them, for the bias gradients), else in a scratch block.
                    let xt = xs + t * B * F
                    let (xh, width) = record ? (stepRows! + t * B * XW, XW) : (fusedRows!, FH)
                    for b in rows {
                        (xh + b * width).update(from: xt + b * F, count: F)
                        (xh + b * width + F).update(from: h + b * H, count: H)
                        if record { xh[b * width + FH] = 1 }
                    }
                    stepWeights.accumulate(m: n, xh + b0 * width, lda: width, into: gt + b0 * gH, ldc: gH,
                                           base: bias)
                } else {
                    if projected {
                        stepWeights.accumulate(m: n, h + b0 * H, lda: H, into: gt + b0 * gH, ldc: gH)
                    } else {
                        stepWeights.accumulate(m: n, h + b0 * H, lda: H, into: hw + b0 * gH, ldc: gH, base: bhh)
                    }
                }
                let st = record && (isLSTM || isGRU) ? sides! + t * B * H : nil
                for b in rows {
                    let yb = output + outputRows.offset(t: t, b: b)
                    guard t < lengths[b] else {  // past this sample's end: zero output, state kept
                        yb.initialize(repeating: 0, count: H)
                        if let st { (st + b * H).initialize(repeating: 0, count: H) }
                        continue
                    }
                    updateCell(cell, units: H, gates: gt + b * gH, gateStride: H, hidden: isGRU ? hw + b * gH : hw, hiddenStride: H,
                               h: h + b * H, c: isLSTM ? cells! + b * H : nil, y: yb,
                               tanhC: st.map { $0 + b * H } ?? scratch, side: st.map { $0 + b * H })
                }
            }
        }}}}}}}}}}}}}}}}
        if wholeSteps && !record && T % 2 == 1 { h = nextState }  // the state after the last step

        let trace = record
            ? DirectionTrace(gates: gates, stepInputs: fused ? stepInputs : nil, hPrev: fused ? nil : hPrev,
                             cPrev: isLSTM ? cPrev : nil,
                             tanhC: isLSTM ? side : nil, hiddenN: isGRU ? side : nil)
            : nil
        return DirectionResult(h: h, c: isLSTM ? c : nil, trace: trace)
    }

    /// A Scalar buffer as the Float buffer it is, for the C kernels (the caller has checked Scalar == Float).
    @inline(__always)
    private static func floats(_ p: UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }
    @inline(__always)
    private static func floats(_ p: UnsafePointer<Scalar>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    /// One sample's state update from the pre-activations of `U` of its units (LSTM, simple RNN: of
    /// the gates; GRU: their input part, with `hwb` = h·W_hhᵀ + b_hh), the gate blocks `gateStride`
    /// and `hiddenStride` apart. Writes those units' state `hb` (and cell `cb`) and output `yb`.
    /// Recording (`side` given: the trace's tanh(c) for the LSTM, W_hn·h + b_hn for the GRU), it also
    /// activates the gates in place for the backward pass; otherwise the gates may be left as they
    /// were, and `tc` is scratch for tanh(c).
    @inline(__always)
    private static func updateCell(
        _ cell: RecurrentCell, units U: Int, gates gb: UnsafeMutablePointer<Scalar>, gateStride gs: Int,
        hidden hwb: UnsafePointer<Scalar>, hiddenStride hs: Int,
        h hb: UnsafeMutablePointer<Scalar>, c cb: UnsafeMutablePointer<Scalar>?, y yb: UnsafeMutablePointer<Scalar>,
        tanhC tc: UnsafeMutablePointer<Scalar>, side: UnsafeMutablePointer<Scalar>?
    ) {
        // Float with vector kernels: one pass that activates and updates (rnnkit_lstm_cell, _gru_cell).
        if Scalar.self == Float.self, let kernels = vectorKernels, cell == .lstm || cell == .gru {
            let f: (UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Float> = floats
            if cell == .lstm {
                kernels.lstmCell(U, f(gb), gs, f(cb!), f(hb), f(yb), side.map(f))
            } else {
                kernels.gruCell(U, f(gb), gs, floats(hwb), hs, f(hb), f(yb), side.map(f))
            }
            return
        }
        // Else whole-block activations, then the state update.
        switch cell {
        case .lstm:
            let cb = cb!
            Scalar.sigmoid(gb, count: U)             // i
            Scalar.sigmoid(gb + gs, count: U)        // f
            Scalar.tanh(gb + 2 * gs, count: U)       // g
            Scalar.sigmoid(gb + 3 * gs, count: U)    // o
            for j in 0..<U {
                let cNew = gb[gs + j] * cb[j] + gb[j] * gb[2 * gs + j]
                cb[j] = cNew
                tc[j] = cNew
            }
            Scalar.tanh(tc, count: U)
            for j in 0..<U {
                let v = gb[3 * gs + j] * tc[j]
                hb[j] = v
                yb[j] = v
            }
        case .gru:
            for j in 0..<U {
                gb[j] += hwb[j]
                gb[gs + j] += hwb[hs + j]
            }
            Scalar.sigmoid(gb, count: U)             // r
            Scalar.sigmoid(gb + gs, count: U)        // z
            let hn = hwb + 2 * hs
            for j in 0..<U { gb[2 * gs + j] += gb[j] * hn[j] }
            if let side { side.update(from: hn, count: U) }
            Scalar.tanh(gb + 2 * gs, count: U)       // n
            for j in 0..<U {
                let z = gb[gs + j]
                let hNew = (1 - z) * gb[2 * gs + j] + z * hb[j]
                hb[j] = hNew
                yb[j] = hNew
            }
        case .rnnTanh:
            Scalar.tanh(gb, count: U)
            hb.update(from: gb, count: U)
            yb.update(from: gb, count: U)
        case .rnnRelu:
            for j in 0..<U {
                let v = max(0, gb[j])
                hb[j] = v; yb[j] = v; gb[j] = v
            }
        }
    }

    // MARK: steps split by units

    /// Where a split by units writes the trace when training: the buffers of `DirectionTrace`.
    struct TracePointers {
        var gates: UnsafeMutablePointer<Scalar>        // (T, B, gH)
        var stepInputs: UnsafeMutablePointer<Scalar>?  // (T, B, F + H + 1), fused cells
        var hPrev: UnsafeMutablePointer<Scalar>?       // (T, B, H), GRU
        var cPrev: UnsafeMutablePointer<Scalar>?       // (T, B, H), LSTM
        var side: UnsafeMutablePointer<Scalar>?        // (T, B, H), LSTM tanh(c) or GRU W_hn·h + b_hn
    }

    /// The forward pass of one direction with the hidden units split across a team of cores
    /// (`StepSplit`): each core packs the rows of the step weights for its units (gate by gate; `kept`
    /// returns those an earlier inference call packed from the same weights, else makes them); every
    /// step it multiplies the whole batch's step input with them, updates its units' state and writes
    /// them into the next step's input, and meets the others. The next step's input is a second
    /// buffer (no core overwrites what another still reads), or, training a fused cell, the trace's
    /// next row block. Fused cells (F > 0): `weights` is [W_ih, W_hh] (gH, F + H), `bias`
    /// b_ih + b_hh, the step input [x_t, h]. GRU (F = 0): `weights` is W_hh, `bias` b_hh,
    /// `inputGates` the precomputed b_ih + X·W_ihᵀ (T, B, gH), the step input h. Projected LSTM and
    /// simple RNN (F = 0, no bias, inference only): `inputGates` holds all of b_ih + b_hh + X·W_ihᵀ,
    /// onto which each step adds h · W_hhᵀ. With `trace` (training) it writes what the sample split
    /// records, in the same layout.
    /// Returns false, having written nothing, when the team's threads cannot be made.
    private static func forwardSplitByUnits(
        cell: RecurrentCell, reverse: Bool, cores: [Range<Int>], T: Int, B: Int, F: Int, H: Int, gH: Int,
        x: UnsafePointer<Scalar>, weights: @escaping () -> UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>?,
        inputGates: UnsafeMutablePointer<Scalar>?, lengths: [Int], output: UnsafeMutablePointer<Scalar>, outputRows: StepRows,
        h: UnsafeMutablePointer<Scalar>, c: UnsafeMutablePointer<Scalar>?, trace: TracePointers?, threads: Int,
        kept: (PackedStepCache.OperandRole, _ k: Int, _ n: Int, () -> RepeatedOperand<Scalar>) -> RepeatedOperand<Scalar>
    ) -> Bool {
        let g = gH / H, K = F + H
        // Each core's rows of the weights, gate-major (its operand points into them), and of the bias.
        let coreWeights = UnsafeMutablePointer<Scalar>.allocate(capacity: gH * K)
        defer { coreWeights.deallocate() }
        var operands = [RepeatedOperand<Scalar>](), coreBias = [[Scalar]]()
        var rowsDone = 0
        for units in cores {
            let first = coreWeights + rowsDone * K
            operands.append(kept(.unitWeights(first: units.lowerBound, count: units.count), K, g * units.count) {
                let weights = weights()
                for gate in 0..<g {
                    (first + gate * units.count * K).update(from: weights + (gate * H + units.lowerBound) * K,
                                                            count: units.count * K)
                }
                return RepeatedOperand(first, ldb: K, transposed: true, k: K, n: g * units.count, uses: T, threads: threads)
            })
            rowsDone += g * units.count
            coreBias.append(bias.map { bias in
                (0..<g).flatMap { gate in UnsafeBufferPointer(start: bias + gate * H + units.lowerBound, count: units.count) }
            } ?? [])
        }
        let widest = cores.map(\.count).max()!
        var products = [Scalar](repeating: 0, count: cores.count * B * g * widest)  // each core's (B, g·U)
        var tanhScratch = [Scalar](repeating: 0, count: cores.count * widest)
        // The step inputs: the trace's rows [x_t, h, 1] (training a fused cell), else two (B, K) blocks
        // alternating by step.
        let recorded = trace?.stepInputs, rowWidth = recorded == nil ? K : K + 1
        var stepInput = [Scalar](repeating: 0, count: recorded == nil ? 2 * B * K : 0)
        let order = { (s: Int) in reverse ? T - 1 - s : s }  // the step taken s-th
        return products.withUnsafeMutableBufferPointer { pBuf in
        tanhScratch.withUnsafeMutableBufferPointer { tBuf in
        stepInput.withUnsafeMutableBufferPointer { siBuf in
        coreBias.withUnsafeBufferPointer { biases in
        operands.withUnsafeBufferPointer { operands in
            let blocks = siBuf.baseAddress
            let input = { (s: Int) in recorded.map { $0 + order(s) * B * rowWidth } ?? blocks! + (s % 2) * B * K }
            for b in 0..<B {
                let row = input(0) + b * rowWidth
                row.update(from: x + (order(0) * B + b) * F, count: F)
                (row + F).update(from: h + b * H, count: H)
                if recorded != nil { row[K] = 1 }
            }
            return runTeam(cores.count) { core, barrier in
                let units = cores[core], U = units.count, u0 = units.lowerBound, width = g * U
                let local = pBuf.baseAddress! + core * B * g * widest, tc = tBuf.baseAddress! + core * widest
                let samples = (core * B / cores.count)..<((core + 1) * B / cores.count)  // whose next x_t it copies
                biases[core].withUnsafeBufferPointer { base in
                    for s in 0..<T {
                        let t = order(s), current = input(s), next = s + 1 < T ? input(s + 1) : nil
                        if let inputGates, cell != .gru {  // projected: this step's input part, then += h · W_hhᵀ
                            for b in 0..<B {
                                for gate in 0..<g {
                                    (local + b * width + gate * U).update(from: inputGates + (t * B + b) * gH + gate * H + u0, count: U)
                                }
                            }
                            operands[core].accumulate(m: B, current, lda: rowWidth, into: local, ldc: width)
                        } else {
                            operands[core].accumulate(m: B, current, lda: rowWidth, into: local, ldc: width, base: base.baseAddress!)
                        }
                        for b in 0..<B {
                            let hb = h + b * H + u0, yb = output + outputRows.offset(t: t, b: b) + u0, cb = c.map { $0 + b * H + u0 }
                            let at = (t * B + b) * H + u0  // these units of sample b at step t, in (T, B, H)
                            let sb = trace?.side.map { $0 + at }
                            // The state before the step, for the backward pass.
                            if let cb, let cPrev = trace?.cPrev { (cPrev + at).update(from: cb, count: U) }
                            if let hPrev = trace?.hPrev { (hPrev + at).update(from: hb, count: U) }
                            if t < lengths[b] {
                                if let inputGates, cell == .gru {  // GRU: the input part here, gate blocks H apart
                                    updateCell(cell, units: U, gates: inputGates + (t * B + b) * gH + u0, gateStride: H,
                                               hidden: local + b * width, hiddenStride: U, h: hb, c: nil, y: yb,
                                               tanhC: tc, side: sb)
                                } else if let trace {  // into the trace's layout, gate blocks H apart, activated there
                                    let gb = trace.gates + (t * B + b) * gH + u0
                                    for gate in 0..<g { (gb + gate * H).update(from: local + b * width + gate * U, count: U) }
                                    updateCell(cell, units: U, gates: gb, gateStride: H, hidden: local, hiddenStride: U,
                                               h: hb, c: cb, y: yb, tanhC: sb ?? tc, side: sb)
                                } else {
                                    updateCell(cell, units: U, gates: local + b * width, gateStride: U, hidden: local,
                                               hiddenStride: U, h: hb, c: cb, y: yb, tanhC: tc, side: nil)
                                }
                            } else {  // past this sample's end: zero output, state kept
                                yb.initialize(repeating: 0, count: U)
                                sb?.initialize(repeating: 0, count: U)
                            }
                            if let next { (next + b * rowWidth + F + u0).update(from: hb, count: U) }
                        }
                        if let next, F > 0 {
                            for b in samples {
                                (next + b * rowWidth).update(from: x + (order(s + 1) * B + b) * F, count: F)
                                if recorded != nil { next[b * rowWidth + K] = 1 }
                            }
                        }
                        barrier.wait()
                    }
                }
            }
        }}}}}
    }

    // MARK: backward

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func backward(
        cell: RecurrentCell, reverse: Bool,
        input x: Tensor<Scalar>,          // (T, B, F)
        weights w: CellWeights<Scalar>,
        lengths: [Int],
        trace: DirectionTrace<Scalar>,
        dOutput dY: UnsafePointer<Scalar>?, outputRows: StepRows,  // dL/dy (T, B, H) as laid out by `outputRows`; nil: zero
        dhFinal: [Scalar]?, dcFinal: [Scalar]?,  // (B, H)
        inputGradient: Bool = true,       // false: the input is data, skip dX = dG_ih · W_ih
        threads: Int = parallelChunkLimit,  // cores this call may use
        split: StepSplit = .automatic,      // how each step is divided among the cores
        pool: StepPool? = nil,              // shared with the other direction, whose cores may help with this one
        tokens: (ids: [Int], count: Int)? = nil  // token input (F = 0): the ids (T, B) of V = count tokens
    ) -> DirectionGradients<Scalar> {
        let (T, B, F) = (x.shape[0], x.shape[1], x.shape[2])
        let gH = w.whh.shape[0], H = w.whh.shape[1]
        let isGRU = cell == .gru, isLSTM = cell == .lstm
        let unitRanges = split.unitRanges(H: H, stepFLOPs: 2 * B * gH * H, batch: B, steps: T, threads: threads,
                                          packed: Scalar.self == Float.self && VectorKernels.active != nil)

        // Gradients of the pre-activations, for all steps: (T, B, gH). They differ between the
        // input and recurrent products only for the GRU's n gate (r ⊙ (W_hn·h + b_hn)).
        // Written in full step by step (zero rows past a sample's end).
        var dGih = Tensor<Scalar>(unfilled: [T, B, gH])
        var dGhhStorage = Tensor<Scalar>(unfilled: isGRU ? [T, B, gH] : [0])
        var dh = dhFinal ?? [Scalar](repeating: 0, count: B * H)
        var dc = isLSTM ? (dcFinal ?? [Scalar](repeating: 0, count: B * H)) : []
        let noOutputGradient = [Scalar](repeating: 0, count: dY == nil ? H : 0)  // stands in for dY: no optional in the loops

        dGih.withUnsafeMutableBufferPointer { dgiBuf in
        dGhhStorage.withUnsafeMutableBufferPointer { dghBuf in
        dh.withUnsafeMutableBufferPointer { dhBuf in
        dc.withUnsafeMutableBufferPointer { dcBuf in
        trace.gates.withUnsafeBufferPointer { gBuf in
        withOptionalBuffer(trace.hPrev) { hPrev in
        withOptionalBuffer(trace.cPrev) { cPrev in
        withOptionalBuffer(trace.tanhC) { tanhC in
        withOptionalBuffer(trace.hiddenN) { hiddenN in
        noOutputGradient.withUnsafeBufferPointer { noDY in
        w.whh.withUnsafeBufferPointer { whh in
            let dh = dhBuf.baseAddress!
            let dGih = dgiBuf.baseAddress!, dcs = dcBuf.baseAddress  // (lets: the steps below may run on any core)
            let dGhhBase = isGRU ? dghBuf.baseAddress! : dGih
            let g = gH / H
            /// Sample b's pre-activation gradients at step t for `units` (and its dh, dc there).
            func stepGradients(t: Int, b: Int, units: Range<Int>) {
                let off = t * B * H
                let gb = gBuf.baseAddress! + (t * B + b) * gH
                let dgib = dGih + (t * B + b) * gH, dghb = dGhhBase + (t * B + b) * gH
                guard t < lengths[b] else {  // no gradient flows through steps past the end
                    for gate in 0..<g {
                        (dgib + gate * H + units.lowerBound).initialize(repeating: 0, count: units.count)
                        if isGRU { (dghb + gate * H + units.lowerBound).initialize(repeating: 0, count: units.count) }
                    }
                    return
                }
                let dhb = dh + b * H, dyb = dY.map { $0 + outputRows.offset(t: t, b: b) } ?? noDY.baseAddress!
                // Float with vector kernels: the same equations, 16 units at a time (rnnkit_*_cell_backward).
                if Scalar.self == Float.self, let kernels = vectorKernels, isLSTM || isGRU {
                    let u = units.lowerBound, at = off + b * H + u  // these units of sample b at step t, in (T, B, H)
                    if isLSTM {
                        kernels.lstmCellBackward(units.count, floats(gb + u), H, floats(tanhC! + at), floats(cPrev! + at),
                                                 floats(dyb + u), floats(dhb + u), floats(dcs! + b * H + u), floats(dgib + u))
                    } else {
                        kernels.gruCellBackward(units.count, floats(gb + u), H, floats(hPrev! + at), floats(hiddenN! + at),
                                                floats(dyb + u), floats(dhb + u), floats(dgib + u), floats(dghb + u))
                    }
                    return
                }
                switch cell {
                case .lstm:
                    let cpb = cPrev! + off + b * H, tcb = tanhC! + off + b * H
                    let dcb = dcs! + b * H
                    for j in units {
                        let i = gb[j], f = gb[H + j], gg = gb[2 * H + j], o = gb[3 * H + j], tc = tcb[j]
                        let dht = dhb[j] + dyb[j]
                        let dct = dcb[j] + dht * o * (1 - tc * tc)
                        dgib[j] = dct * gg * i * (1 - i)
                        dgib[H + j] = dct * cpb[j] * f * (1 - f)
                        dgib[2 * H + j] = dct * i * (1 - gg * gg)
                        dgib[3 * H + j] = dht * tc * o * (1 - o)
                        dcb[j] = dct * f
                        dhb[j] = 0
                    }
                case .gru:
                    let hpb = hPrev! + off + b * H
                    let hnb = hiddenN! + off + b * H
                    for j in units {
                        let r = gb[j], z = gb[H + j], n = gb[2 * H + j]
                        let dht = dhb[j] + dyb[j]
                        let dnPre = dht * (1 - z) * (1 - n * n)
                        let drPre = dnPre * hnb[j] * r * (1 - r)
                        let dzPre = dht * (hpb[j] - n) * z * (1 - z)
                        dgib[j] = drPre; dghb[j] = drPre
                        dgib[H + j] = dzPre; dghb[H + j] = dzPre
                        dgib[2 * H + j] = dnPre; dghb[2 * H + j] = dnPre * r
                        dhb[j] = dht * z
                    }
                case .rnnTanh, .rnnRelu:
                    for j in units {
                        let v = gb[j]
                        let dht = dhb[j] + dyb[j]
                        let slope: Scalar = cell == .rnnTanh ? 1 - v * v : (v > 0 ? 1 : 0)
                        dgib[j] = dht * slope
                        dhb[j] = 0
                    }
                }
            }
            // Split by units: each core computes its units' gradients for the whole batch, the cores
            // meet, and each adds dG_hh[t] (B, gH) · its columns of W_hh (gH, U) onto its units of dh,
            // which only it reads next. dG of the next step goes to another block, so one meeting a step.
            if let cores = unitRanges {
                let operands = cores.map { units in
                    RepeatedOperand(whh.baseAddress! + units.lowerBound, ldb: H, transposed: false, k: gH, n: units.count,
                                    uses: T, threads: threads)
                }
                let ran = runTeam(cores.count) { core, barrier in
                    let units = cores[core]
                    for s in 0..<T {
                        let t = reverse ? s : T - 1 - s
                        for b in 0..<B { stepGradients(t: t, b: b, units: units) }
                        barrier.wait()
                        operands[core].accumulate(m: B, dGhhBase + t * B * gH, lda: gH, into: dh + units.lowerBound, ldc: H)
                    }
                }
                if ran { return }  // else (no threads to be had) by samples below
            }
            let stepWeights = RepeatedOperand(whh.baseAddress!, ldb: H, transposed: false, k: gH, n: H, uses: T, threads: threads)
            // Each sample's steps, last first, on whichever core has them (StepPool), as forward.
            StepPool.run(rows: B, steps: T, minimumRows: stepMinimumRows, threads: threads, splittable: stepWeights.isPacked,
                         pool: pool) { rows, s, _ in
                let (b0, n) = (rows.lowerBound, rows.count)
                let t = reverse ? s : T - 1 - s
                for b in rows { stepGradients(t: t, b: b, units: 0..<H) }
                // dh (n, H) += dG_hh[t] (n, gH) · W_hh (gH, H) for these rows; inactive rows have zero dG
                // and pass dh through.
                stepWeights.accumulate(m: n, dGhhBase + t * B * gH + b0 * gH, lda: gH, into: dh + b0 * H, ldc: H)
            }
        }}}}}}}}}}}

        // Weight gradients, products over all T·B rows.
        // LSTM and simple RNN: setFromStepInputProduct writes every entry, so nothing is zeroed first.
        let setInFull = trace.stepInputs != nil
        func gradient(_ shape: [Int]) -> Tensor<Scalar> { setInFull ? Tensor(unfilled: shape) : Tensor(zeros: shape) }
        var grads = CellWeights(wih: gradient(w.wih.shape), whh: gradient(w.whh.shape), bih: gradient([gH]), bhh: gradient([gH]))
        var dx = Tensor<Scalar>(unfilled: inputGradient ? [T, B, F] : [0])
        if inputGradient {
            dGih.withUnsafeBufferPointer { dgi in
                w.wih.withUnsafeBufferPointer { wih in
                    dx.withUnsafeMutableBufferPointer { dxb in          // dX (TB, F) = dG_ih · W_ih
                        // On the AVX-512 kernels: W_ih packed for the packed kernel, the rows split across the
                        // cores. On AMD EPYC (Zen 5), 2 cores, the char model's dX took 0.46 s of a 4-second
                        // training run instead of 0.53–0.54 on oneDNN's sgemm, and it trained 2.6% faster
                        // (228 → 234 samples/s); LSTM 256 × 2 within the noise. `.build/products`, the char
                        // model's first layer (6400 × 64 × 2048): 521 GFLOP/s against oneDNN's 437, and in
                        // another run 468 against OpenBLAS SkylakeX's 310; its second (6400 × 512 × 2048)
                        // 516 against 507, and 472 against 473. The AVX2 path keeps BLAS: no AVX2 machine
                        // has measured the change.
                        let inputWeights = RepeatedOperand(wih.baseAddress!, ldb: F, transposed: false, k: gH, n: F,
                                                           uses: KernelISA.active.isAVX512Build && T * B >= 64 ? 2 : 1,
                                                           threads: threads)
                        if inputWeights.isPacked {
                            [Scalar](repeating: 0, count: F).withUnsafeBufferPointer { zeros in
                                inputWeights.accumulate(rowsAcrossCores: T * B, dgi.baseAddress!, lda: gH, into: dxb.baseAddress!,
                                                        ldc: F, base: zeros.baseAddress!, minimumRows: 64, threads: threads)
                            }
                        } else {
                            Scalar.parallelGemm(transposeA: false, transposeB: false, m: T * B, n: F, k: gH,
                                                alpha: 1, a: dgi.baseAddress!, lda: gH, b: wih.baseAddress!, ldb: F,
                                                beta: 0, c: dxb.baseAddress!, ldc: F, threads: threads)
                        }
                    }
                }
            }
        }
        // Token input: dTable (V, gH), each token's rows of dG_ih summed, split across the cores by columns.
        let dTable = tokens.map { tokens in
            var dTable = Tensor<Scalar>(zeros: [tokens.count, gH])
            dGih.withUnsafeBufferPointer { dgi in
                dTable.withUnsafeMutableBufferPointer { dt in
                    let (dgi, dt) = (dgi.baseAddress!, dt.baseAddress!)
                    parallelRows((gH + 63) / 64, minimumRows: 1, threads: threads) { blocks, _ in
                        let columns = (blocks.lowerBound * 64)..<min(gH, blocks.upperBound * 64)
                        for (r, id) in tokens.ids.enumerated() {
                            let row = dgi + r * gH, out = dt + id * gH
                            for j in columns { out[j] += row[j] }
                        }
                    }
                }
            }
            return dTable
        }
        if let stepInputs = trace.stepInputs {
            // LSTM and simple RNN: dG_ih = dG_hh, so one product gives every weight gradient:
            // [dW_ih, dW_hh, db] (gH, F + H + 1) = dGᵀ · [X, H_prev, 1].
            grads.setFromStepInputProduct(dG: dGih, stepInputs: stepInputs, rows: T * B, F: F, H: H, threads: threads)
            return DirectionGradients(dx: inputGradient ? dx : nil, weights: grads, dh0: dh, dc0: isLSTM ? dc : nil,
                                      dTable: dTable)
        }
        // GRU: the recurrent products see r ⊙ (·) in the n gate, so dG_hh differs from dG_ih. (And an
        // LSTM or simple RNN whose input was projected or read as tokens, whose trace keeps H_prev:
        // its dG_hh is dG_ih.)
        dGih.withUnsafeBufferPointer { dgi in
            x.withUnsafeBufferPointer { xb in
                grads.wih.withUnsafeMutableBufferPointer { dw in   // dW_ih (gH, F) = dG_ihᵀ · X
                    guard F > 0 else { return }
                    Scalar.parallelGemm(transposeA: true, transposeB: false, m: gH, n: F, k: T * B,
                                alpha: 1, a: dgi.baseAddress!, lda: gH, b: xb.baseAddress!, ldb: F,
                                beta: 0, c: dw.baseAddress!, ldc: F, threads: threads)
                }
            }
            grads.bih.withUnsafeMutableBufferPointer { db in
                addColumnSums(dgi.baseAddress!, rows: T * B, columns: gH, into: db.baseAddress!, threads: threads)
            }
        }
        (isGRU ? dGhhStorage : dGih).withUnsafeBufferPointer { dgh in
            trace.hPrev!.withUnsafeBufferPointer { hp in
                grads.whh.withUnsafeMutableBufferPointer { dw in   // dW_hh (gH, H) = dG_hhᵀ · H_prev
                    Scalar.parallelGemm(transposeA: true, transposeB: false, m: gH, n: H, k: T * B,
                                alpha: 1, a: dgh.baseAddress!, lda: gH, b: hp.baseAddress!, ldb: H,
                                beta: 0, c: dw.baseAddress!, ldc: H, threads: threads)
                }
            }
            grads.bhh.withUnsafeMutableBufferPointer { db in
                addColumnSums(dgh.baseAddress!, rows: T * B, columns: gH, into: db.baseAddress!, threads: threads)
            }
        }
        return DirectionGradients(dx: inputGradient ? dx : nil, weights: grads, dh0: dh, dc0: isLSTM ? dc : nil,
                                  dTable: dTable)
    }
}

/// The fewest samples a core takes when the engine splits a batch's samples. Measured on AMD EPYC
/// (AVX2), 2 cores, against 16 before: training at batch 8 and 16 ran 32–50% faster (LSTM 128,
/// LSTM 256 × 2, the char model), and inference as fast as the unit split there.
let stepMinimumRows = 4

/// How the engine divides each step of a layer among the cores, forward and backward.
///
/// Split by samples, each core runs the whole time loop on its share of the batch (4 samples or
/// more) and meets the others only at the end; a batch of fewer than 8 runs on one core. Split by units, each
/// core multiplies the whole batch with the weights of its share of the hidden units, and the cores
/// meet once per step (each core's h is part of every core's next input; backward, each core's
/// gate gradients are part of every core's dh), through a team of threads that spin at a barrier
/// (`runTeam`). Both write the same trace, laid out by gate.
@_spi(Testing) public enum StepSplit: Sendable, Equatable {
    /// Units when samples would leave cores idle (batches under 8 on two cores) and a step's
    /// product is worth a meeting (`unitSplitFLOPs`), on the packed float kernels, for two steps or
    /// more; also where each core would get only the fewest samples (batches of 8–11 on two cores)
    /// and the step's weights are 2 MiB or more (`unitSplitRowFLOPs`), when the caller says that pays
    /// (`wideWeights`: inference on the AVX-512 kernels); otherwise samples.
    case automatic
    /// Samples, whatever the sizes.
    case samples
    /// Units, across this many cores (at most H / 16), whatever the sizes: for the tests.
    case units(cores: Int)

    /// The FLOPs of a step's product from which `automatic` splits units: 1 M, about 10 µs on one
    /// core, where the meeting costs about a microsecond.
    static let unitSplitFLOPs = 1 << 20

    /// The FLOPs of a step's product per sample (twice its weights) from which inference splits
    /// units where the samples would give each core only the fewest: 1 M, weights of 2 MiB. Each core
    /// then streams half of them every step instead of all. Measured on AMD EPYC (Zen 5, AVX-512),
    /// 2 cores, at batch 8 (`rnnkit bench`, old and new alternating): LSTM 384 × 2 inferred 8–10%
    /// faster, LSTM 512 10–25%, GRU 512 21–26%, the char model (LSTM 512 × 2) 17–23%; LSTM 256 × 2
    /// (1 MiB a layer) the same. Training split so was 1–7% slower for LSTM 384 and 512, and inference
    /// on the AVX2 kernels of the same CPU 7–16% slower (LSTM 512, the char model): those keep the samples.
    static let unitSplitRowFLOPs = 1 << 20

    /// Each core's units, or nil to split the samples. The ranges are whole 16-unit blocks where they
    /// can be, so that each gate block of a core's weights starts a panel.
    @_spi(Testing) public func unitRanges(H: Int, stepFLOPs: Int, batch: Int, steps: Int, threads: Int, packed: Bool,
                                          wideWeights: Bool = false) -> [Range<Int>]? {
        let cores: Int
        switch self {
        case .samples: return nil
        case .units(let n): cores = min(n, H / 16)
        case .automatic:
            // Where the sample split would leave cores idle, or in inference give each core the
            // fewest samples against large weights.
            let idle = batch / stepMinimumRows < threads
            let thin = wideWeights && batch / stepMinimumRows == threads && stepFLOPs / batch >= Self.unitSplitRowFLOPs
            guard packed, steps > 1, idle || thin, stepFLOPs >= Self.unitSplitFLOPs else { return nil }
            cores = min(threads, H / 32)
        }
        guard cores > 1 else { return nil }
        let blocks = H / 16
        return (0..<cores).map { c in
            (c * blocks / cores * 16)..<(c == cores - 1 ? H : (c + 1) * blocks / cores * 16)
        }
    }
}
