import Foundation
@_spi(Testing) import RNNKit
import Testing

/// Each optimizer's first two steps on p = [1, −2] with the gradient held at g = [0.5, −0.1],
/// against values worked out by hand (PyTorch's update rules).
@Suite struct OptimizerTests {
    func twoSteps(_ configuration: OptimizerConfiguration) throws -> [[Double]] {
        let p = Variable(try Tensor<Double>(shape: [2], scalars: [1, -2]), requiresGrad: true)
        let optimizer = try Optimizer<Double>(configuration)
        var trajectory: [[Double]] = []
        for _ in 0..<2 {
            p.grad = try Tensor(shape: [2], scalars: [0.5, -0.1])
            optimizer.step([("p", p)])
            trajectory.append(p.value.scalars)
        }
        #expect(optimizer.stepCount == 2)
        return trajectory
    }

    func checkClose(_ got: [[Double]], _ expected: [[Double]], tolerance: Double = 1e-9) {
        for (a, b) in zip(got.joined(), expected.joined()) {
            #expect(abs(a - b) <= tolerance, "got \(got), expected \(expected)")
        }
    }

    @Test func sgd() throws {
        // p − 0.1·g
        checkClose(try twoSteps(OptimizerConfiguration(kind: .sgd, learningRate: 0.1)), [[0.95, -1.99], [0.9, -1.98]])
    }

    @Test func momentum() throws {
        // buf₁ = g, buf₂ = 0.9·g + g = 1.9·g; p −= 0.1·buf
        checkClose(try twoSteps(OptimizerConfiguration(kind: .momentum, learningRate: 0.1)), [[0.95, -1.99], [0.855, -1.971]])
    }

    @Test func nesterov() throws {
        // update = g + 0.9·buf: 1.9·g then 2.71·g
        var c = OptimizerConfiguration(kind: .momentum, learningRate: 0.1)
        c.nesterov = true
        checkClose(try twoSteps(c), [[0.905, -1.981], [0.7695, -1.9539]])
    }

    @Test func adam() throws {
        // Bias-corrected m̂ = g, v̂ = g², so each step moves 0.1·g/(|g| + 1e-8).
        checkClose(try twoSteps(OptimizerConfiguration(kind: .adam, learningRate: 0.1)),
                    [[0.900000002, -1.90000001], [0.800000004, -1.80000002]])
    }

    @Test func rmsprop() throws {
        // s₁ = 0.1·g², s₂ = 0.19·g²; p −= 0.01·g/(√s + 1e-8)
        var c = OptimizerConfiguration(kind: .rmsprop, learningRate: 0.01)
        c.alpha = 0.9
        checkClose(try twoSteps(c), [[0.968377225398, -1.968377233398], [0.945435653064, -1.945435665274]], tolerance: 1e-11)
    }

    @Test func weightDecayAddsToTheGradient() throws {
        var c = OptimizerConfiguration(kind: .sgd, learningRate: 0.1)
        c.weightDecay = 0.5
        // g + 0.5·p = [1.0, −1.1] then [0.95, −1.045]
        checkClose(try twoSteps(c), [[0.9, -1.89], [0.805, -1.7855]])
    }

    @Test func stateRoundTripsThroughRestore() throws {
        let c = OptimizerConfiguration(kind: .adam, learningRate: 0.1)
        let p = Variable(try Tensor<Double>(shape: [2], scalars: [1, -2]), requiresGrad: true)
        let first = try Optimizer<Double>(c)
        p.grad = try Tensor(shape: [2], scalars: [0.5, -0.1])
        first.step([("p", p)])
        let resumed = try Optimizer<Double>(c)
        try resumed.restore(stepCount: first.stepCount, state: first.state)
        let q = Variable(p.value, requiresGrad: true)
        q.grad = p.grad
        first.step([("p", p)])
        resumed.step([("p", q)])
        #expect(p.value == q.value)
        #expect(Set(first.state.keys) == ["exp_avg.p", "exp_avg_sq.p"])
    }

    @Test func clippingByGlobalNorm() throws {
        let a = Variable(try Tensor<Double>(repeating: 0, shape: [2]), requiresGrad: true)
        let b = Variable(try Tensor<Double>(repeating: 0, shape: [1]), requiresGrad: true)
        a.grad = try Tensor(shape: [2], scalars: [3, 4])
        b.grad = try Tensor(shape: [1], scalars: [12])
        let untouched = try clipGradientsByGlobalNorm([("a", a), ("b", b)], maxNorm: 20)
        #expect(untouched == 13 && a.grad!.scalars == [3, 4])
        let norm = try clipGradientsByGlobalNorm([("a", a), ("b", b)], maxNorm: 6.5)
        #expect(norm == 13)
        #expect(a.grad!.scalars == [1.5, 2] && b.grad!.scalars == [6])
        #expect(throws: RNNKitError.self) { try clipGradientsByGlobalNorm([("a", a)], maxNorm: 0) }
    }

    /// The C kernels' Adam (16 lanes, a scalar tail) against the portable loop, bit for bit: both round
    /// every operation on its own. Counts below, at and past a vector, and a sentinel after the end.
    @Test(arguments: VectorKernels.runnable)
    func adamKernelsMatchTheLoopBitForBit(kernels: VectorKernels) {
        var rng = SeededGenerator(seed: 5)
        func values(_ n: Int, low: Float) -> [Float] { (0..<n).map { _ in low + Float(rng.next() % 10_000) / 5_000 } }
        for count in [1, 15, 16, 17, 47, 300] {
            let sentinel: Float = 12345, pad = [Float](repeating: sentinel, count: 16)
            let g0 = values(count, low: -1)
            var (w, m, v) = (values(count, low: -1) + pad, values(count, low: -0.1) + pad, values(count, low: 0) + pad)
            var (wRef, mRef, vRef) = (w, m, v)
            let w0 = w
            for t in 1...3 {  // coefficients of steps 1 to 3 with PyTorch's defaults and lr 1e-2
                let step = AdamStep<Float>(beta1: 0.9, beta2: 0.999, stepSize: 1e-2 / Float(1 - pow(0.9, Double(t))),
                                           rootCorrection2: Float(1 - pow(0.999, Double(t))).squareRoot(), epsilon: 1e-8)
                g0.withUnsafeBufferPointer { g in
                    w.withUnsafeMutableBufferPointer { w in m.withUnsafeMutableBufferPointer { m in v.withUnsafeMutableBufferPointer { v in
                        step.apply(count: count, w: w.baseAddress!, g: g.baseAddress!, m: m.baseAddress!, v: v.baseAddress!, kernels: kernels)
                    } } }
                    wRef.withUnsafeMutableBufferPointer { w in mRef.withUnsafeMutableBufferPointer { m in vRef.withUnsafeMutableBufferPointer { v in
                        step.apply(count: count, w: w.baseAddress!, g: g.baseAddress!, m: m.baseAddress!, v: v.baseAddress!, kernels: nil)
                    } } }
                }
            }
            #expect(w.map(\.bitPattern) == wRef.map(\.bitPattern), "\(kernels) w, count \(count)")
            #expect(m.map(\.bitPattern) == mRef.map(\.bitPattern), "\(kernels) m, count \(count)")
            #expect(v.map(\.bitPattern) == vRef.map(\.bitPattern), "\(kernels) v, count \(count)")
            #expect(w.suffix(16).allSatisfy { $0 == sentinel } && v.suffix(16).allSatisfy { $0 == sentinel })
            #expect(zip(w, w0).prefix(count).allSatisfy { $0 != $1 })  // every parameter moved
        }
    }

    /// Adam on a parameter large enough to be split across the cores (Float: the active path's kernel)
    /// against the same steps in Double.
    @Test func adamInFloatFollowsDouble() throws {
        var rng = SeededGenerator(seed: 6)
        let n = 100_003
        let start = try Tensor<Double>.uniform(shape: [n], low: -1, high: 1, generator: &rng)
        let grads = try (0..<3).map { _ in try Tensor<Double>.uniform(shape: [n], low: -1, high: 1, generator: &rng) }
        let pd = Variable(start, requiresGrad: true)
        let pf = Variable(try Tensor<Float>(shape: [n], scalars: start.scalars.map { Float($0) }), requiresGrad: true)
        let c = OptimizerConfiguration(kind: .adam, learningRate: 1e-2)
        let (od, of) = (try Optimizer<Double>(c), try Optimizer<Float>(c))
        for g in grads {
            pd.grad = g
            pf.grad = try Tensor<Float>(shape: [n], scalars: g.scalars.map { Float($0) })
            od.step([("p", pd)])
            of.step([("p", pf)])
        }
        var worst = 0.0
        for (a, b) in zip(pf.value.scalars, pd.value.scalars) { worst = max(worst, abs(Double(a) - b)) }
        #expect(worst < 1e-6, "worst difference \(worst)")
        let moved = zip(pd.value.scalars, start.scalars).map { abs($0 - $1) }.reduce(0, +) / Double(n)
        #expect(moved > 5e-3, "mean move \(moved)")  // the steps moved the parameters: up to lr each
    }

    @Test func badHyperparametersThrow() {
        var c = OptimizerConfiguration(kind: .adam, learningRate: 0)
        #expect(throws: RNNKitError.self) { try Optimizer<Float>(c) }
        c.learningRate = 1e-3
        c.beta2 = 1
        #expect(throws: RNNKitError.self) { try Optimizer<Float>(c) }
    }
}

@Suite struct InitializerTests {
    @Test func truncatedNormalStaysWithinTwoDeviations() throws {
        var g = SeededGenerator(seed: 41)
        let t: Tensor<Double> = try Initializer.truncatedNormal(mean: 0, standardDeviation: 0.1).make(shape: [100, 100], generator: &g)
        #expect(t.scalars.allSatisfy { abs($0) <= 0.2 })
        let mean = t.sum() / 10_000
        let sd = (t.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10_000).squareRoot()
        #expect(abs(mean) < 0.003)
        #expect(abs(sd - 0.088) < 0.003)  // a normal truncated at 2σ has σ·0.880
    }

    @Test func normalHasItsMoments() throws {
        var g = SeededGenerator(seed: 42)
        let t: Tensor<Double> = try Initializer.normal(mean: 1, standardDeviation: 0.01).make(shape: [10_000], generator: &g)
        let mean = t.sum() / 10_000
        let sd = (t.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10_000).squareRoot()
        #expect(abs(mean - 1) < 0.0005 && abs(sd - 0.01) < 0.0005)
    }

    @Test(arguments: [[4, 6], [6, 4], [5, 5]])
    func orthogonalHasOrthonormalRowsOrColumns(shape: [Int]) throws {
        var g = SeededGenerator(seed: 43)
        let w: Tensor<Double> = try Initializer.orthogonal(gain: 1).make(shape: shape, generator: &g)
        let (r, c) = (shape[0], shape[1])
        let wt = try Tensor(shape: [c, r], scalars: (0..<(c * r)).map { w[$0 % r, $0 / r] })
        let gram = r <= c ? try w.matmul(wt) : try wt.matmul(w)
        let n = min(r, c)
        for i in 0..<n { for j in 0..<n { #expect(abs(gram[i, j] - (i == j ? 1 : 0)) < 1e-12) } }
    }

    @Test func glorotAndDefaultBounds() throws {
        var g = SeededGenerator(seed: 44)
        let glorot: Tensor<Float> = try Initializer.glorotUniform.make(shape: [10, 14], generator: &g)
        #expect(glorot.scalars.allSatisfy { abs($0) <= 0.5 } && glorot.scalars.contains { abs($0) > 0.4 })
        let pt: Tensor<Float> = try Initializer.pytorchDefault.make(shape: [10, 16], generator: &g)
        #expect(pt.scalars.allSatisfy { abs($0) <= 0.25 } && pt.scalars.contains { abs($0) > 0.2 })
        let c: Tensor<Float> = try Initializer.constant(0.1).make(shape: [3], generator: &g)
        #expect(c.scalars == [0.1, 0.1, 0.1])
    }

    @Test func sameSeedSameWeights() throws {
        var g1 = SeededGenerator(seed: 45), g2 = SeededGenerator(seed: 45)
        let a: Tensor<Float> = try Initializer.truncatedNormal(mean: 0, standardDeviation: 0.1).make(shape: [7, 3], generator: &g1)
        let b: Tensor<Float> = try Initializer.truncatedNormal(mean: 0, standardDeviation: 0.1).make(shape: [7, 3], generator: &g2)
        #expect(a == b)
    }
}
