@_spi(Testing) import RNNKit
import Testing

@Suite struct RecurrentBehaviourTests {
    /// Feeding a sequence one step at a time through `step` gives the sequence API's numbers.
    @Test(arguments: RecurrentCell.allCases)
    func stepMatchesSequence(cell: RecurrentCell) throws {
        let (B, T, F, H, L) = (3, 5, 4, 6, 2)
        var g = SeededGenerator(seed: 21)
        let layer = try RecurrentLayer<Float>(cell, inputSize: F, hiddenSize: H, numLayers: L, generator: &g)
        let x: Tensor<Float> = try randomTensor([B, T, F], &g)
        let h0: Tensor<Float> = try randomTensor([L, B, H], &g)
        let c0: Tensor<Float>? = cell == .lstm ? try randomTensor([L, B, H], &g) : nil
        let whole = try layer(x, initialState: RecurrentState(h: h0, c: c0))

        var state = RecurrentState(h: h0, c: c0)
        var worst: Float = 0
        for t in 0..<T {
            let xt = try Tensor(shape: [B, F], scalars: (0..<B).flatMap { b in (0..<F).map { x[b, t, $0] } })
            let r = try layer.step(xt, state: state)
            #expect(r.output.shape == [B, H])
            for b in 0..<B {
                for j in 0..<H { worst = max(worst, abs(r.output[b, j] - whole.output[b, t, j])) }
            }
            state = r.state
        }
        #expect(worst <= 1e-6)
        #expect(try state.h.maxAbsDifference(whole.state.h) <= 1e-6)
        if let c = state.c { #expect(try c.maxAbsDifference(try #require(whole.state.c)) <= 1e-6) }
    }

    /// A batch large enough to be split across cores (parallelRows) gives, sample for sample, the
    /// outputs and gradients of running each sample alone: in Double to 1e-12, every cell, stacked,
    /// bidirectional, with initial states and lengths from 0 to T.
    @Test(arguments: RecurrentCell.allCases)
    func batchSplitAcrossCoresMatchesSampleBySample(cell: RecurrentCell) throws {
        let (B, T, F, H, L, D) = (48, 6, 5, 7, 2, 2)
        var g = SeededGenerator(seed: 23)
        let layer = try RecurrentLayer<Double>(RecurrentConfiguration(cell: cell, inputSize: F, hiddenSize: H, numLayers: L,
                                                                      isBidirectional: true), generator: &g)
        let x: Tensor<Double> = try randomTensor([B, T, F], &g)
        let h0: Tensor<Double> = try randomTensor([L * D, B, H], &g)
        let c0: Tensor<Double> = try randomTensor([L * D, B, H], &g)
        let weights: Tensor<Double> = try randomTensor([B, T, D * H], &g)
        let lengths = (0..<B).map { $0 % (T + 1) }
        func slice(_ t: Tensor<Double>, axis: Int, _ b: Int) throws -> Tensor<Double> {
            var shape = t.shape
            shape[axis] = 1
            let outer: Int = t.shape[..<axis].reduce(1, *)
            let inner: Int = t.shape[(axis + 1)...].reduce(1, *)
            let n: Int = t.shape[axis]
            var scalars: [Double] = []
            for o in 0..<outer {
                let start: Int = (o * n + b) * inner
                scalars += t.scalars[start..<(start + inner)]
            }
            return try Tensor(shape: shape, scalars: scalars)
        }
        func run(_ x: Tensor<Double>, _ h0: Tensor<Double>, _ c0: Tensor<Double>, _ w: Tensor<Double>, _ lengths: [Int])
            throws -> (output: Tensor<Double>, dx: Tensor<Double>, grads: [Tensor<Double>]) {
            layer.zeroGrad()
            let input = Variable(x, requiresGrad: true)
            let r = try layer(input, initialState: RecurrentState(h: Variable(h0), c: cell == .lstm ? Variable(c0) : nil),
                              lengths: lengths)
            try (r.output * Variable(w)).sum().backward()
            return (r.output.value, try #require(input.grad), layer.namedParameters.map { $0.variable.grad! })
        }
        let whole = try run(x, h0, c0, weights, lengths)
        var summed = whole.grads.map { try! Tensor<Double>(repeating: 0, shape: $0.shape) }
        var worst = 0.0
        for b in 0..<B {
            let one = try run(slice(x, axis: 0, b), slice(h0, axis: 1, b), slice(c0, axis: 1, b), slice(weights, axis: 0, b), [lengths[b]])
            worst = max(worst, try one.output.maxAbsDifference(slice(whole.output, axis: 0, b)),
                        try one.dx.maxAbsDifference(slice(whole.dx, axis: 0, b)))
            summed = zip(summed, one.grads).map { try! Tensor(shape: $0.shape, scalars: zip($0.scalars, $1.scalars).map(+)) }
        }
        for (a, b) in zip(summed, whole.grads) { worst = max(worst, try a.maxAbsDifference(b)) }
        #expect(worst <= 1e-12, "worst difference \(worst)")
    }

    /// Inference with each step's hidden units split across a team of cores (StepSplit.units) gives
    /// the numbers of the sample split: every cell, stacked and bidirectional, with initial states and
    /// lengths from 0 to T, on 2 and 3 cores, with unit ranges that are not whole 16-unit blocks (40
    /// units: 16 + 24) and batches that do not divide among the cores, with a narrow input (the fused
    /// step product) and a wide one (inputs projected first). Float on the packed kernels (the path
    /// the split runs on); the sample split is checked against Double elsewhere.
    @Test(arguments: RecurrentCell.allCases)
    func unitSplitMatchesSampleSplit(cell: RecurrentCell) throws {
        for (B, H, cores, F) in [(5, 40, 2, 9), (1, 48, 3, 9), (7, 33, 2, 9), (6, 40, 2, 70)] {
            let (T, L) = (6, 2)
            var g = SeededGenerator(seed: 29)
            let layer = try RecurrentLayer<Float>(RecurrentConfiguration(cell: cell, inputSize: F, hiddenSize: H, numLayers: L,
                                                                         isBidirectional: true), generator: &g)
            let x: Tensor<Float> = try randomTensor([B, T, F], &g)
            let h0: Tensor<Float> = try randomTensor([L * 2, B, H], &g)
            let c0: Tensor<Float>? = cell == .lstm ? try randomTensor([L * 2, B, H], &g) : nil
            let lengths = (0..<B).map { [T, 0, 3, T, 1, 5, 2][$0 % 7] }
            let state = RecurrentState(h: h0, c: c0)
            let bySamples = try layer(x, initialState: state, lengths: lengths, split: .samples)
            let byUnits = try layer(x, initialState: state, lengths: lengths, split: .units(cores: cores))
            let scale = max(bySamples.output.scalars.map(abs).max()!, 1)
            #expect(try byUnits.output.maxAbsDifference(bySamples.output) <= 1e-6 * scale, "B \(B), H \(H)")
            #expect(try byUnits.state.h.maxAbsDifference(bySamples.state.h) <= 1e-6 * scale)
            if let c = byUnits.state.c { #expect(try c.maxAbsDifference(try #require(bySamples.state.c)) <= 1e-5) }
            // Zero output past each sample's end, as the sample split gives.
            for b in 0..<B where lengths[b] < T {
                #expect(byUnits.output[b, T - 1, 0] == 0)
            }
        }
    }

    /// Training split by units (forward with its trace, and backward) gives the gradients of the
    /// sample split, which the finite-difference checks cover: every cell, two layers, both
    /// directions, lengths down to 0, initial states; in Double to 1e-11 (BLAS for the products)
    /// and in Float to 1e-5 relative (the packed kernels).
    @Test(arguments: RecurrentCell.allCases)
    func unitSplitTrainingMatchesSampleSplit(cell: RecurrentCell) throws {
        func gradients<S: TensorScalar>(_: S.Type, _ split: StepSplit, B: Int, H: Int, F: Int) throws -> [Tensor<S>] {
            let (T, L) = (6, 2)
            var g = SeededGenerator(seed: 41)
            let layer = try RecurrentLayer<S>(RecurrentConfiguration(cell: cell, inputSize: F, hiddenSize: H, numLayers: L,
                                                                     isBidirectional: true), generator: &g)
            let x = Variable<S>(try randomTensor([B, T, F], &g), requiresGrad: true)
            let h0 = Variable<S>(try randomTensor([L * 2, B, H], &g), requiresGrad: true)
            let c0 = Variable<S>(try randomTensor([L * 2, B, H], &g), requiresGrad: true)
            let lengths = (0..<B).map { [T, 0, 3, T, 1, 5, 2][$0 % 7] }
            let r = try layer(x, initialState: RecurrentState(h: h0, c: cell == .lstm ? c0 : nil), lengths: lengths,
                              split: split)
            var loss = try (r.output * Variable(randomTensor(r.output.shape, &g))).sum()
            loss = try loss + (r.state.h * Variable(randomTensor(r.state.h.shape, &g))).sum()
            if let c = r.state.c { loss = try loss + (c * Variable(randomTensor(c.shape, &g))).sum() }
            try loss.backward()
            let checked = [x, h0] + (cell == .lstm ? [c0] : []) + layer.namedParameters.map(\.variable)
            return [r.output.value, r.state.h.value] + (try checked.map { try #require($0.grad) })
        }
        for (B, H, cores, F) in [(5, 40, 2, 9), (1, 48, 3, 9), (7, 33, 2, 70)] {
            for (bySamples, byUnits) in zip(try gradients(Double.self, .samples, B: B, H: H, F: F),
                                            try gradients(Double.self, .units(cores: cores), B: B, H: H, F: F)) {
                #expect(try byUnits.maxAbsDifference(bySamples) <= 1e-11, "Double, B \(B), H \(H)")
            }
            for (bySamples, byUnits) in zip(try gradients(Float.self, .samples, B: B, H: H, F: F),
                                            try gradients(Float.self, .units(cores: cores), B: B, H: H, F: F)) {
                let scale = max(bySamples.scalars.map(abs).max()!, 1)
                #expect(try byUnits.maxAbsDifference(bySamples) <= 1e-5 * scale, "Float, B \(B), H \(H)")
            }
        }
    }

    /// Inference on a small batch with a wide input projects the inputs of all steps first (instead
    /// of the fused step product that training runs): the same outputs and final states as the
    /// recorded forward pass, every cell, in Double to 1e-12 and in Float (packed kernels) to 1e-5,
    /// both directions, with lengths; a batch of 32 (not projected) too.
    @Test(arguments: RecurrentCell.allCases)
    func projectedInferenceMatchesTrainingForward(cell: RecurrentCell) throws {
        func check<S: TensorScalar>(_: S.Type, batch B: Int, tolerance: S) throws {
            let (T, F, H) = (5, 64, 24)
            var g = SeededGenerator(seed: 31)
            let layer = try RecurrentLayer<S>(RecurrentConfiguration(cell: cell, inputSize: F, hiddenSize: H, numLayers: 2,
                                                                     isBidirectional: true), generator: &g)
            let x: Tensor<S> = try randomTensor([B, T, F], &g)
            let h0: Tensor<S> = try randomTensor([4, B, H], &g)
            let c0: Tensor<S>? = cell == .lstm ? try randomTensor([4, B, H], &g) : nil
            let lengths = (0..<B).map { [T, 2, 0, T, 4][$0 % 5] }
            let inference = try layer(x, initialState: RecurrentState(h: h0, c: c0), lengths: lengths, split: .samples)
            let recorded = try layer(Variable(x), initialState: RecurrentState(h: Variable(h0), c: c0.map { Variable($0) }),
                                     lengths: lengths)
            #expect(try inference.output.maxAbsDifference(recorded.output.value) <= tolerance, "\(S.self), batch \(B)")
            #expect(try inference.state.h.maxAbsDifference(recorded.state.h.value) <= tolerance)
            if let c = inference.state.c { #expect(try c.maxAbsDifference(try #require(recorded.state.c).value) <= tolerance) }
        }
        try check(Double.self, batch: 3, tolerance: 1e-12)
        try check(Float.self, batch: 7, tolerance: 1e-5)
        try check(Float.self, batch: 32, tolerance: 1e-5)
    }

    /// The packed weights inference keeps between calls (PackedStepCache) follow the weights: a
    /// second call gives the same bits, and after the weights change, in place as an optimizer
    /// changes them or by assignment, the output is that of a layer that never ran before. On every
    /// path that keeps them: whole LSTM steps; an LSTM's projected input and its steps' W_hh (a
    /// small batch of wide inputs, both layers); the GRU's and the simple RNN's operands; each core's
    /// rows of a unit split (LSTM and GRU).
    @Test(arguments: [(RecurrentCell.lstm, 32, 8, 24, StepSplit.automatic), (.lstm, 8, 64, 32, .automatic),
                      (.gru, 32, 8, 24, .automatic), (.rnnTanh, 32, 8, 24, .automatic),
                      (.lstm, 4, 8, 32, .units(cores: 2)), (.gru, 4, 8, 32, .units(cores: 2))])
    func keptPackedWeightsFollowTheWeights(cell: RecurrentCell, B: Int, F: Int, H: Int, split: StepSplit) throws {
        let T = 4
        let configuration = RecurrentConfiguration(cell: cell, inputSize: F, hiddenSize: H, numLayers: 2, isBidirectional: true)
        var g = SeededGenerator(seed: 5), same = SeededGenerator(seed: 5)
        let layer = try RecurrentLayer<Float>(configuration, generator: &g)
        let fresh = try RecurrentLayer<Float>(configuration, generator: &same)
        let x: Tensor<Float> = try randomTensor([B, T, F], &g)
        // The recorded forward pass (training's) packs afresh every call: the same numbers, to rounding.
        func recorded(_ layer: RecurrentLayer<Float>) throws -> Tensor<Float> { try layer(Variable(x), split: split).output.value }
        let first = try layer(x, split: split).output
        #expect(try first.maxAbsDifference(recorded(layer)) <= 1e-5)
        #expect(try layer(x, split: split).output == first)
        func change(_ layer: RecurrentLayer<Float>) throws {
            for (i, p) in layer.namedParameters.enumerated() {
                if i % 2 == 0 {
                    p.variable.value.withUnsafeMutableBufferPointer { w in for j in w.indices { w[j] *= 0.75 } }
                } else {
                    p.variable.value = try Tensor(shape: p.variable.value.shape, scalars: p.variable.value.scalars.map { -$0 })
                }
            }
        }
        try change(layer)
        try change(fresh)
        let changed = try layer(x, split: split).output
        #expect(try changed.maxAbsDifference(recorded(layer)) <= 1e-5)
        #expect(changed != first)
        #expect(changed == (try fresh(x, split: split).output))
    }

    /// When inference splits units on its own: small batches of large enough steps, on the packed
    /// kernels, over two steps or more; never where the samples fill the cores.
    @Test func automaticStepSplit() {
        let big = 2 * 4 * 2048 * 1024
        #expect(StepSplit.automatic.unitRanges(H: 512, stepFLOPs: big, batch: 4, steps: 100, threads: 2, packed: true)
                == [0..<256, 256..<512])
        #expect(StepSplit.automatic.unitRanges(H: 512, stepFLOPs: big, batch: 64, steps: 100, threads: 2, packed: true) == nil)
        #expect(StepSplit.automatic.unitRanges(H: 512, stepFLOPs: big, batch: 4, steps: 1, threads: 2, packed: true) == nil)
        #expect(StepSplit.automatic.unitRanges(H: 512, stepFLOPs: big, batch: 4, steps: 100, threads: 1, packed: true) == nil)
        #expect(StepSplit.automatic.unitRanges(H: 512, stepFLOPs: big, batch: 4, steps: 100, threads: 2, packed: false) == nil)
        #expect(StepSplit.automatic.unitRanges(H: 128, stepFLOPs: 2 * 512 * 156, batch: 1, steps: 28, threads: 2,
                                              packed: true) == nil)
        #expect(StepSplit.automatic.unitRanges(H: 48, stepFLOPs: big, batch: 4, steps: 100, threads: 4, packed: true) == nil)
        #expect(StepSplit.automatic.unitRanges(H: 100, stepFLOPs: big, batch: 4, steps: 100, threads: 4, packed: true)
                == [0..<32, 32..<64, 64..<100])
        #expect(StepSplit.units(cores: 3).unitRanges(H: 40, stepFLOPs: 0, batch: 100, steps: 1, threads: 1, packed: false)
                == [0..<16, 16..<40])
        #expect(StepSplit.samples.unitRanges(H: 512, stepFLOPs: big, batch: 4, steps: 100, threads: 2, packed: true) == nil)
        // The fewest samples a core, where the caller says it pays: units where the weights are 2 MiB or more.
        let wide = 2 * 8 * 2048 * 512, narrow = 2 * 8 * 1024 * 256  // LSTM 512 (4 MiB), LSTM 256 (1 MiB) at batch 8
        #expect(StepSplit.automatic.unitRanges(H: 512, stepFLOPs: wide, batch: 8, steps: 100, threads: 2, packed: true,
                                              wideWeights: true) == [0..<256, 256..<512])
        #expect(StepSplit.automatic.unitRanges(H: 512, stepFLOPs: wide, batch: 8, steps: 100, threads: 2, packed: true) == nil)
        #expect(StepSplit.automatic.unitRanges(H: 256, stepFLOPs: narrow, batch: 8, steps: 28, threads: 2, packed: true,
                                              wideWeights: true) == nil)
        #expect(StepSplit.automatic.unitRanges(H: 512, stepFLOPs: wide / 8 * 12, batch: 12, steps: 100, threads: 2,
                                              packed: true, wideWeights: true) == nil)
    }

    /// The Float engine as it runs for speed (AVX2 activations and the packed step kernel where the
    /// CPU has them, the batch split across cores, fused inference products) against the Double
    /// engine (libm, the one the gradient checks verify) on the same weights: outputs, input
    /// gradients and weight gradients agree to 1e-5 relative to each tensor's largest entry.
    ///
    /// H = 24 gives a partial panel; an LSTM of 256 units (1024 gate rows) over 52 steps (2080
    /// rows) has its weight gradients computed the other way round and transposed on oneDNN
    /// (`setFromStepInputProduct`).
    @Test(arguments: RecurrentCell.allCases.map { ($0, 24, 9) } + [(.lstm, 256, 52)])
    func floatEngineAgreesWithDoubleEngine(cell: RecurrentCell, H: Int, T: Int) throws {
        let (B, F, L) = (40, 5, 2)  // 20 rows a core: packed-kernel tiles of 5
        var g = SeededGenerator(seed: 29)
        let config = RecurrentConfiguration(cell: cell, inputSize: F, hiddenSize: H, numLayers: L, isBidirectional: true)
        let reference = try RecurrentLayer<Double>(config, generator: &g)
        let fast = try RecurrentLayer<Float>(config, generator: &g)
        for (name, p) in reference.namedParameters {
            try fast.setParameter(named: name, to: Tensor(shape: p.shape, scalars: p.value.scalars.map(Float.init)))
        }
        let x: Tensor<Double> = try randomTensor([B, T, F], &g, low: -2, high: 2)
        let w: Tensor<Double> = try randomTensor([B, T, 2 * H], &g)
        let lengths = (0..<B).map { 1 + $0 % T }
        func relative<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<Double>) throws -> Double {
            let scale = max(b.scalars.map(abs).max() ?? 0, 1e-3)
            return zip(a.scalars, b.scalars).map { abs(Double($0) - $1) }.max()! / scale
        }
        let xd = Variable(x, requiresGrad: true), xf = Variable(try Tensor<Float>(shape: x.shape, scalars: x.scalars.map(Float.init)), requiresGrad: true)
        let rd = try reference(xd, lengths: lengths), rf = try fast(xf, lengths: lengths)
        try (rd.output * Variable(w)).sum().backward()
        try (rf.output * Variable(try Tensor<Float>(shape: w.shape, scalars: w.scalars.map(Float.init)))).sum().backward()
        var worst = max(try relative(rf.output.value, rd.output.value), try relative(try #require(xf.grad), try #require(xd.grad)))
        // The inference path (LSTM and simple RNN fuse the step's two products there), and its final state.
        let inferred = try fast(xf.value, lengths: lengths)
        worst = max(worst, try relative(inferred.output, rd.output.value), try relative(inferred.state.h, rd.state.h.value))
        for ((name, pf), (_, pd)) in zip(fast.namedParameters, reference.namedParameters) {
            let e = try relative(try #require(pf.grad), try #require(pd.grad))
            #expect(e <= 1e-5, "\(name): \(e)")
            worst = max(worst, e)
        }
        #expect(worst <= 1e-5, "worst relative difference \(worst)")
    }

    static func dropoutConfiguration(rate: Double, variational: Bool = false) -> RecurrentConfiguration {
        RecurrentConfiguration(cell: .gru, inputSize: 4, hiddenSize: 6, numLayers: 2, isBidirectional: true,
                               inputDropout: rate, dropout: rate, outputDropout: rate, variationalDropout: variational)
    }

    @Test func dropoutRateZeroInTrainingChangesNothing() throws {
        var g = SeededGenerator(seed: 22)
        let layer = try RecurrentLayer<Float>(Self.dropoutConfiguration(rate: 0), generator: &g)
        let x = Variable<Float>(try randomTensor([3, 5, 4], &g))
        var masks = SeededGenerator(seed: 23)
        let training = try layer(x, lengths: [5, 3, 1], training: &masks)
        let evaluation = try layer(x, lengths: [5, 3, 1])
        #expect(training.output.value == evaluation.output.value)
        #expect(training.state.h.value == evaluation.state.h.value)
    }

    @Test func evaluationModeIgnoresDropout() throws {
        // Dropout draws nothing at construction, so the same seed gives the same weights.
        var g1 = SeededGenerator(seed: 24), g2 = SeededGenerator(seed: 24)
        let plain = try RecurrentLayer<Float>(Self.dropoutConfiguration(rate: 0), generator: &g1)
        let dropping = try RecurrentLayer<Float>(Self.dropoutConfiguration(rate: 0.5), generator: &g2)
        var gx = SeededGenerator(seed: 25)
        let x: Tensor<Float> = try randomTensor([3, 5, 4], &gx)
        #expect(try plain(x).output == dropping(x).output)
        #expect(try plain(Variable(x)).output.value == dropping(Variable(x)).output.value)

        var masks = SeededGenerator(seed: 26)
        let trained = try dropping(Variable(x), training: &masks)
        #expect(try trained.output.value != plain(x).output, "training mode with rate 0.5 must drop something")
    }

    @Test func sameSeedIsBitIdentical() throws {
        func run() throws -> (weights: [Tensor<Float>], output: Tensor<Float>, grad: Tensor<Float>?) {
            var g = SeededGenerator(seed: 27)
            let layer = try RecurrentLayer<Float>(Self.dropoutConfiguration(rate: 0.3, variational: true), generator: &g)
            let x = Variable<Float>(try randomTensor([3, 5, 4], &g))
            let r = try layer(x, lengths: [4, 5, 2], training: &g)
            try projectionFloat(r.output).backward()
            return (layer.namedParameters.map(\.variable.value), r.output.value,
                    layer.parameter(named: "weight_hh_l1_reverse")?.grad)
        }
        let (a, b) = (try run(), try run())
        #expect(a.weights == b.weights)
        #expect(a.output == b.output)
        #expect(a.grad != nil && a.grad == b.grad)
    }

    /// With `W_ih = I`, `W_hh = 0` and zero biases, a simple RNN outputs tanh(mask ⊙ x), so the zeros
    /// of its output show the input dropout mask.
    @Test(arguments: [false, true])
    func variationalMasksRepeatOverTimeNotOverBatch(variational: Bool) throws {
        let (B, T, H) = (4, 6, 32)
        let config = RecurrentConfiguration(cell: .rnnTanh, inputSize: H, hiddenSize: H, inputDropout: 0.5,
                                            variationalDropout: variational)
        var g = SeededGenerator(seed: 28)
        let layer = try RecurrentLayer<Float>(config, generator: &g)
        let identity = (0..<(H * H)).map { $0 / H == $0 % H ? Float(1) : 0 }
        try layer.setParameter(named: "weight_ih_l0", to: Tensor(shape: [H, H], scalars: identity))
        try layer.setParameter(named: "weight_hh_l0", to: Tensor(repeating: 0, shape: [H, H]))
        try layer.setParameter(named: "bias_ih_l0", to: Tensor(repeating: 0, shape: [H]))
        try layer.setParameter(named: "bias_hh_l0", to: Tensor(repeating: 0, shape: [H]))
        let x = Variable(try Tensor<Float>(repeating: 0.5, shape: [B, T, H]))
        let y = try layer(x, training: &g).output.value

        func pattern(_ b: Int, _ t: Int) -> [Bool] { (0..<H).map { y[b, t, $0] == 0 } }
        let sameOverTime = (0..<B).allSatisfy { b in (1..<T).allSatisfy { pattern(b, $0) == pattern(b, 0) } }
        let samplesDiffer = (1..<B).contains { pattern($0, 0) != pattern(0, 0) }
        #expect(sameOverTime == variational)
        #expect(samplesDiffer, "each sample draws its own mask")
        // Kept units are scaled by 1/(1 − rate): tanh(0.5 · 2).
        let kept = (0..<H).map { y[0, 0, $0] }.filter { $0 != 0 }
        #expect(!kept.isEmpty && kept.allSatisfy { abs($0 - Float.tanh(1)) < 1e-6 })
    }

    /// TF dynamic_rnn semantics: zero outputs past a sample's length, final state at its last valid
    /// step, and a length of 0 returns the initial state.
    @Test func lengthsFreezeStateAndZeroOutputs() throws {
        var g = SeededGenerator(seed: 29)
        let layer = try RecurrentLayer<Float>(.lstm, inputSize: 3, hiddenSize: 5, isBidirectional: true, generator: &g)
        let x: Tensor<Float> = try randomTensor([3, 6, 3], &g)
        let h0: Tensor<Float> = try randomTensor([2, 3, 5], &g)
        let c0: Tensor<Float> = try randomTensor([2, 3, 5], &g)
        let r = try layer(x, initialState: RecurrentState(h: h0, c: c0), lengths: [6, 2, 0])

        // Sample 1 alone, cut to its 2 valid steps, gives the same outputs and final states.
        let x1 = try Tensor(shape: [1, 2, 3], scalars: (0..<2).flatMap { t in (0..<3).map { x[1, t, $0] } })
        let state1 = RecurrentState(h: try Tensor(shape: [2, 1, 5], scalars: (0..<2).flatMap { d in (0..<5).map { h0[d, 1, $0] } }),
                                    c: try Tensor(shape: [2, 1, 5], scalars: (0..<2).flatMap { d in (0..<5).map { c0[d, 1, $0] } }))
        let alone = try layer(x1, initialState: state1)
        for t in 0..<6 {
            for j in 0..<10 {
                let expected: Float = t < 2 ? alone.output[0, t, j] : 0
                #expect(abs(r.output[1, t, j] - expected) <= 1e-6)
                #expect(r.output[2, t, j] == 0)
            }
        }
        for d in 0..<2 {
            for j in 0..<5 {
                #expect(abs(r.state.h[d, 1, j] - alone.state.h[d, 0, j]) <= 1e-6)
                #expect(r.state.h[d, 2, j] == h0[d, 2, j])
                #expect(r.state.c![d, 2, j] == c0[d, 2, j])
            }
        }
    }
}

func projectionFloat(_ value: Variable<Float>) throws -> Variable<Float> {
    var g = SeededGenerator(seed: 99)
    return try (value * Variable(randomTensor(value.shape, &g))).sum()
}
