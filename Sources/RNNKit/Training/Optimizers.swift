import RealModule

/// The optimizers, with PyTorch's update rules.
///
/// Where TF1 differs (the seeds were written against it):
/// - Adam: TF1 adds ε to √v̂·√(1−β₂ᵗ) ("epsilon hat"), PyTorch to √v̂; the same at ε→0.
/// - RMSProp: TF1 starts the mean square at 1 and puts ε inside the square root
///   (`lr·g/√(s+ε)`, ε=1e-10); PyTorch starts it at 0 and adds ε outside (`lr·g/(√s+ε)`, ε=1e-8).
///   TF1's `decay` is PyTorch's `alpha`.
/// - Momentum: TF1's `MomentumOptimizer` folds the learning rate into the buffer
///   (`a = μa + g; p −= lr·a`): the same as PyTorch's while the learning rate is constant.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case sgd, momentum, adam, rmsprop
}

/// Hyperparameters of an optimizer; stored in checkpoints.
public struct OptimizerConfiguration: Codable, Equatable, Sendable {
    public var kind: OptimizerKind
    public var learningRate: Double
    /// Momentum factor μ (`momentum`).
    public var momentum: Double = 0.9
    /// Nesterov momentum (`momentum`).
    public var nesterov: Bool = false
    /// Adam's β₁, β₂.
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    /// RMSProp's smoothing constant α (TF1's `decay`).
    public var alpha: Double = 0.99
    /// ε of Adam (1e-8) and RMSProp (1e-8).
    public var epsilon: Double = 1e-8
    /// L2 penalty added to the gradient (PyTorch's `weight_decay`).
    public var weightDecay: Double = 0

    public init(kind: OptimizerKind, learningRate: Double) {
        self.kind = kind
        self.learningRate = learningRate
    }

    /// Checks the hyperparameters.
    public func validate() throws(RNNKitError) {
        func check(_ ok: Bool, _ name: String, _ expected: String, _ value: Double) throws(RNNKitError) {
            guard ok else {
                throw .invalidValue(argument: name, expected: expected, found: "\(value)", hint: "See OptimizerConfiguration.")
            }
        }
        try check(learningRate > 0 && learningRate.isFinite, "learningRate", "a positive finite rate", learningRate)
        try check(momentum >= 0 && momentum < 1, "momentum", "a factor in [0, 1)", momentum)
        try check(beta1 >= 0 && beta1 < 1, "beta1", "a factor in [0, 1)", beta1)
        try check(beta2 >= 0 && beta2 < 1, "beta2", "a factor in [0, 1)", beta2)
        try check(alpha >= 0 && alpha < 1, "alpha", "a factor in [0, 1)", alpha)
        try check(epsilon > 0, "epsilon", "a positive number", epsilon)
        try check(weightDecay >= 0, "weightDecay", "a non-negative penalty", weightDecay)
    }
}

/// Updates parameters from their gradients and keeps per-parameter state (moments), keyed by the
/// parameter's name so the state can be saved beside the weights and restored.
public final class Optimizer<Scalar: TensorScalar> {
    public let configuration: OptimizerConfiguration
    /// The learning rate used by the next step (change it to decay the rate).
    public var learningRate: Double
    /// Steps taken so far.
    public private(set) var stepCount = 0
    /// Per-parameter state under PyTorch's names: `exp_avg`, `exp_avg_sq`, `momentum_buffer`,
    /// `square_avg`, as `"<kind>.<parameter name>"`.
    public private(set) var state: [String: Tensor<Scalar>] = [:]

    public init(_ configuration: OptimizerConfiguration) throws(RNNKitError) {
        try configuration.validate()
        self.configuration = configuration
        self.learningRate = configuration.learningRate
    }

    /// Restores saved state (from a checkpoint).
    /// - Throws: `RNNKitError.invalidValue` for a negative step count.
    public func restore(stepCount: Int, state: [String: Tensor<Scalar>]) throws(RNNKitError) {
        guard stepCount >= 0 else {
            throw .invalidValue(argument: "stepCount", expected: "a count ≥ 0", found: "\(stepCount)", hint: "The checkpoint is damaged.")
        }
        self.stepCount = stepCount
        self.state = state
    }

    /// One update of every parameter that has a gradient.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func step(_ parameters: [(name: String, variable: Variable<Scalar>)]) {
        stepCount += 1
        let c = configuration
        let lr = Scalar(learningRate), wd = Scalar(c.weightDecay), eps = Scalar(c.epsilon)
        let t = Double(stepCount)
        for (name, p) in parameters {
            guard var g = p.grad else { continue }
            let n = g.count
            if wd != 0 { g = add(g, Tensor(validShape: g.shape, scalars: p.value.scalars.map { $0 * wd })) }
            switch c.kind {
            case .sgd:
                p.value.withUnsafeMutableBufferPointer { w in
                    g.withUnsafeBufferPointer { g in for i in 0..<n { w[i] -= lr * g[i] } }
                }
            case .momentum:
                let key = "momentum_buffer." + name, mu = Scalar(c.momentum)
                let buf: Tensor<Scalar>
                if var b = state.removeValue(forKey: key) {  // held once: updated in place, not copied
                    b.withUnsafeMutableBufferPointer { b in g.withUnsafeBufferPointer { g in for i in 0..<n { b[i] = mu * b[i] + g[i] } } }
                    buf = b
                } else {
                    buf = g  // PyTorch: the first step's buffer is the gradient itself
                }
                state[key] = buf
                p.value.withUnsafeMutableBufferPointer { w in
                    g.withUnsafeBufferPointer { g in
                        buf.withUnsafeBufferPointer { b in
                            for i in 0..<n { w[i] -= lr * (c.nesterov ? g[i] + mu * b[i] : b[i]) }
                        }
                    }
                }
            case .adam:
                // The moments leave the dictionary while they are updated, so that they are the only
                // reference to their storage and are written in place rather than copied.
                var m = state.removeValue(forKey: "exp_avg." + name) ?? Tensor(zeros: g.shape)
                var v = state.removeValue(forKey: "exp_avg_sq." + name) ?? Tensor(zeros: g.shape)
                let correction1 = Scalar(1 - Double.pow(c.beta1, t)), correction2 = Scalar(1 - Double.pow(c.beta2, t))
                let step = AdamStep(beta1: Scalar(c.beta1), beta2: Scalar(c.beta2), stepSize: lr / correction1,
                                    rootCorrection2: correction2.squareRoot(), epsilon: eps)
                if n > 0 {
                    m.withUnsafeMutableBufferPointer { m in
                        v.withUnsafeMutableBufferPointer { v in
                            g.withUnsafeBufferPointer { g in
                                p.value.withUnsafeMutableBufferPointer { w in
                                    let (w, g, m, v) = (w.baseAddress!, g.baseAddress!, m.baseAddress!, v.baseAddress!)
                                    // Chunks of at least 32 Ki parameters per core: below that, starting
                                    // the other core costs more than it saves.
                                    parallelRows(n, minimumRows: 1 << 15) { rows, _ in
                                        let i = rows.lowerBound
                                        step.apply(count: rows.count, w: w + i, g: g + i, m: m + i, v: v + i)
                                    }
                                }
                            }
                        }
                    }
                }
                state["exp_avg." + name] = m
                state["exp_avg_sq." + name] = v
            case .rmsprop:
                let a = Scalar(c.alpha)
                var s = state.removeValue(forKey: "square_avg." + name) ?? Tensor(zeros: g.shape)  // updated in place
                s.withUnsafeMutableBufferPointer { s in
                    g.withUnsafeBufferPointer { g in
                        p.value.withUnsafeMutableBufferPointer { w in
                            for i in 0..<n {
                                s[i] = a * s[i] + (1 - a) * g[i] * g[i]
                                w[i] -= lr * g[i] / (s[i].squareRoot() + eps)
                            }
                        }
                    }
                }
                state["square_avg." + name] = s
            }
        }
    }
}

/// One Adam step's coefficients, and the update they make.
@_spi(Testing) public struct AdamStep<Scalar: TensorScalar>: Sendable {
    public var beta1, beta2, stepSize, rootCorrection2, epsilon: Scalar

    public init(beta1: Scalar, beta2: Scalar, stepSize: Scalar, rootCorrection2: Scalar, epsilon: Scalar) {
        (self.beta1, self.beta2, self.stepSize, self.rootCorrection2, self.epsilon) = (beta1, beta2, stepSize, rootCorrection2, epsilon)
    }

    /// Updates `count` parameters `w` and their moments `m`, `v` from the gradients `g` (PyTorch's
    /// rule): m ← β₁·m + (1 − β₁)·g, v ← β₂·v + (1 − β₂)·g·g, w ← w − stepSize·m / (√v / √(1 − β₂ᵗ) + ε).
    /// Float runs the active path's C kernel (16 lanes at a time, `kernels` for the tests), which
    /// rounds every operation as the loop below does, so the two agree bit for bit; Double and the
    /// portable path run the loop. Scalar, the loop took 7 ms per million parameters (AMD EPYC,
    /// AVX2): 2–3% of a training step on every benchmark configuration.
    public func apply(count: Int, w: UnsafeMutablePointer<Scalar>, g: UnsafePointer<Scalar>,
                      m: UnsafeMutablePointer<Scalar>, v: UnsafeMutablePointer<Scalar>,
                      kernels: VectorKernels? = VectorKernels.active) {
        if Scalar.self == Float.self, let kernels {
            func f(_ p: UnsafePointer<Scalar>) -> UnsafeMutablePointer<Float> {
                UnsafeMutableRawPointer(mutating: p).assumingMemoryBound(to: Float.self)
            }
            return kernels.adam(count, f(w), f(g), f(m), f(v), Float(beta1), Float(beta2), Float(stepSize),
                                Float(rootCorrection2), Float(epsilon))
        }
        let (c1, c2) = (1 - beta1, 1 - beta2)
        for i in 0..<count {
            m[i] = beta1 * m[i] + c1 * g[i]
            v[i] = beta2 * v[i] + c2 * g[i] * g[i]
            w[i] = w[i] - stepSize * m[i] / (v[i].squareRoot() / rootCorrection2 + epsilon)
        }
    }
}

/// Scales all gradients together so their global L2 norm is at most `maxNorm`
/// (TF's `clip_by_global_norm`, PyTorch's `clip_grad_norm_`). Returns the norm before clipping.
@discardableResult
public func clipGradientsByGlobalNorm<Scalar: TensorScalar>(
    _ parameters: [(name: String, variable: Variable<Scalar>)], maxNorm: Double
) throws(RNNKitError) -> Double {
    guard maxNorm > 0 else {
        throw .invalidValue(argument: "maxNorm", expected: "a positive norm", found: "\(maxNorm)", hint: "Try 5.")
    }
    var squares = 0.0
    for (_, p) in parameters {
        guard let g = p.grad else { continue }
        for v in g.scalars { squares += Double(v) * Double(v) }
    }
    let norm = squares.squareRoot()
    if norm > maxNorm {
        let scale = Scalar(maxNorm / norm)
        for (_, p) in parameters where p.grad != nil {
            p.grad!.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= scale } }
        }
    }
    return norm
}

