// The few element-wise operations a model needs around its layers, each forward above its backward.

extension Variable {
    /// Element-wise sum; both operands have the same shape.
    public static func + (a: Variable, b: Variable) throws(RNNKitError) -> Variable {
        let out = try a.value + b.value
        return TapeNode.record(inputs: [a, b], outputs: [out]) { grads in
            [grads[0], grads[0]]
        }[0]
    }

    /// Element-wise product; both operands have the same shape.
    public static func * (a: Variable, b: Variable) throws(RNNKitError) -> Variable {
        let out = try a.value * b.value
        let (x, y) = (a.value, b.value)
        return TapeNode.record(inputs: [a, b], outputs: [out]) { grads in
            guard let g = grads[0] else { return [nil, nil] }
            // d(x⊙y)/dx = y, d(x⊙y)/dy = x; the shapes were checked in the forward pass.
            return [try! g * y, try! g * x]
        }[0]
    }

    /// The sum of all elements, as a tensor of shape `[1]`.
    public func sum() -> Variable {
        let inShape = value.shape
        let out = Tensor<Scalar>(validShape: [1], scalars: [value.sum()])
        return TapeNode.record(inputs: [self], outputs: [out]) { grads in
            guard let g = grads[0] else { return [nil] }
            return [Tensor(validShape: inShape, scalars: Array(repeating: g.scalars[0], count: inShape.reduce(1, *)))]
        }[0]
    }
}

/// A model part with named parameters, listed under PyTorch's state-dict names
/// (`weight`, `bias`, `weight_ih_l0`, `weight_hh_l1_reverse`, ...).
public protocol ParameterContainer: AnyObject {
    associatedtype Scalar: TensorScalar
    /// Every trainable parameter with its name, in a fixed order.
    var namedParameters: [(name: String, variable: Variable<Scalar>)] { get }
}

extension ParameterContainer {
    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for (_, p) in namedParameters { p.zeroGrad() }
    }

    /// The parameter with the given name, if there is one.
    public func parameter(named name: String) -> Variable<Scalar>? {
        namedParameters.first { $0.name == name }?.variable
    }

    /// Replaces a parameter's value, as loading a state dict does.
    /// - Throws: `RNNKitError.invalidValue` for an unknown name, `.shapeMismatch` for a wrong shape.
    public func setParameter(named name: String, to value: Tensor<Scalar>) throws(RNNKitError) {
        guard let p = parameter(named: name) else {
            throw .invalidValue(argument: "name", expected: "one of \(namedParameters.map(\.name))", found: "'\(name)'",
                                hint: "Parameter names follow PyTorch's state dict of the same module.")
        }
        guard p.value.shape == value.shape else {
            throw .shapeMismatch(argument: name, expected: shapeString(p.value.shape), found: value.shape,
                                 hint: "The tensor must have the parameter's shape; check the layer's sizes.")
        }
        p.value = value
    }
}

extension Variable {
    /// Step `t` of a batch-first sequence: `(B, T, F) → (B, F)`. `t` may be negative, counting from
    /// the end as Python does (`-1` is the last step, the seeds' `outputs[-1]`).
    public func selectingStep(_ t: Int) throws(RNNKitError) -> Variable {
        let step = try value.resolvedStep(t)
        return try selectingSteps(Array(repeating: step, count: shape[0]))
    }

    /// Step `steps[b]` of sample b of a batch-first sequence: `(B, T, F) → (B, F)`; with
    /// `lengths − 1`, each sample's last valid step.
    public func selectingSteps(_ steps: [Int]) throws(RNNKitError) -> Variable {
        let out = try value.selectingSteps(steps)
        let (B, T, F) = (shape[0], shape[1], shape[2])
        return TapeNode.record(inputs: [self], outputs: [out]) { grads in
            guard let g = grads[0] else { return [nil] }
            var dx = Tensor<Scalar>(zeros: [B, T, F])
            dx.withUnsafeMutableBufferPointer { d in
                g.withUnsafeBufferPointer { g in
                    for b in 0..<B { (d.baseAddress! + (b * T + steps[b]) * F).update(from: g.baseAddress! + b * F, count: F) }
                }
            }
            return [dx]
        }[0]
    }

    /// The last layer's final states side by side, `(L·D, B, H) → (B, D·H)`: `[forward, reverse]` per
    /// sample, the state each direction ends on (for the reverse direction, after step 0).
    public func lastLayerStates(numDirections D: Int) throws(RNNKitError) -> Variable {
        let out = try value.lastLayerStates(numDirections: D)
        let (LD, B, H) = (shape[0], shape[1], shape[2])
        let first = LD - D
        return TapeNode.record(inputs: [self], outputs: [out]) { grads in
            guard let g = grads[0] else { return [nil] }
            var ds = Tensor<Scalar>(zeros: [LD, B, H])
            ds.withUnsafeMutableBufferPointer { ds in
                g.withUnsafeBufferPointer { g in
                    for d in 0..<D {
                        for b in 0..<B {
                            (ds.baseAddress! + ((first + d) * B + b) * H).update(from: g.baseAddress! + b * D * H + d * H, count: H)
                        }
                    }
                }
            }
            return [ds]
        }[0]
    }
}

extension Tensor {
    /// Step `t` (negative counts from the end) of a `(B, T, F)` sequence, and the step it resolved to.
    func selectingStep(_ t: Int) throws(RNNKitError) -> (Tensor, Int) {
        let step = try resolvedStep(t)
        return (try selectingSteps(Array(repeating: step, count: shape[0])), step)
    }

    /// The step `t` names in a `(B, T, F)` sequence (negative counts from the end).
    func resolvedStep(_ t: Int) throws(RNNKitError) -> Int {
        guard shape.count == 3 else {
            throw .shapeMismatch(argument: "self", expected: "(B, T, F)", found: shape, hint: "selectingStep reads a sequence.")
        }
        let T = shape[1]
        guard t >= -T && t < T else {
            throw .invalidValue(argument: "t", expected: "a step in -\(T)..<\(T)", found: "\(t)", hint: "The sequence has \(T) steps.")
        }
        return t < 0 ? T + t : t
    }

    /// Step `steps[b]` of sample b of a `(B, T, F)` sequence: `(B, F)`.
    func selectingSteps(_ steps: [Int]) throws(RNNKitError) -> Tensor {
        guard shape.count == 3 else {
            throw .shapeMismatch(argument: "self", expected: "(B, T, F)", found: shape, hint: "selectingSteps reads a sequence.")
        }
        let (B, T, F) = (shape[0], shape[1], shape[2])
        guard steps.count == B else {
            throw .shapeMismatch(argument: "steps", expected: "(\(B)), one per sample", found: [steps.count], hint: "Give each sample's step.")
        }
        if let (b, t) = steps.enumerated().first(where: { $0.element < 0 || $0.element >= T }) {
            throw .invalidValue(argument: "steps[\(b)]", expected: "a step in 0..<\(T)", found: "\(t)", hint: "The sequence has \(T) steps.")
        }
        var out = Tensor(zeros: [B, F])
        withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for b in 0..<B { (o.baseAddress! + b * F).update(from: x.baseAddress! + (b * T + steps[b]) * F, count: F) }
            }
        }
        return out
    }

    /// `(L·D, B, H) → (B, D·H)`: the last layer's states, directions side by side.
    func lastLayerStates(numDirections D: Int) throws(RNNKitError) -> Tensor {
        guard shape.count == 3, D >= 1, shape[0] % D == 0, shape[0] >= D else {
            throw .shapeMismatch(argument: "self", expected: "(L·\(D), B, H)", found: shape,
                                 hint: "Pass a recurrent state in PyTorch's layout and its number of directions.")
        }
        let (LD, B, H) = (shape[0], shape[1], shape[2])
        let first = LD - D
        var out = Tensor(zeros: [B, D * H])
        withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for d in 0..<D {
                    for b in 0..<B {
                        (o.baseAddress! + b * D * H + d * H).update(from: s.baseAddress! + ((first + d) * B + b) * H, count: H)
                    }
                }
            }
        }
        return out
    }
}
