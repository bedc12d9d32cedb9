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
