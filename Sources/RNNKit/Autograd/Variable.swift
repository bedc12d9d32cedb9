/// A tensor that takes part in reverse-mode differentiation.
///
/// A `Variable` is either a leaf (a parameter, or an input whose gradient you want) or the output
/// of a recorded operation. Operations are coarse: a whole recurrent layer over a whole sequence
/// is one node, whose backward pass is backpropagation through time. Calling `backward()` on a
/// scalar result walks the recorded nodes in reverse topological order and accumulates
/// (`+=`) each gradient into `grad`, like PyTorch's `.grad`; call `zeroGrad()` between steps.
public final class Variable<Scalar: TensorScalar> {
    /// The value computed in the forward pass.
    public var value: Tensor<Scalar> { didSet { version &+= 1 } }
    /// How often `value` has changed (assigned, or mutated in place, as optimizers do): what is
    /// computed from the value and kept (the recurrent layers' packed weights) is current while this
    /// stays the same.
    public private(set) var version = 0
    /// The accumulated gradient of the last `backward()` call(s), `nil` until one reaches it.
    public var grad: Tensor<Scalar>?
    /// Whether gradients are recorded for this variable (always true for recorded outputs).
    public let requiresGrad: Bool
    /// The recorded operation that produced this variable and which of its outputs it is.
    let creator: (node: TapeNode<Scalar>, index: Int)?

    /// A leaf variable. Parameters and inputs you differentiate with respect to set
    /// `requiresGrad: true`; constants leave it `false` and cost nothing in the backward pass.
    public init(_ value: Tensor<Scalar>, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.creator = nil
    }

    init(value: Tensor<Scalar>, creator: TapeNode<Scalar>, index: Int) {
        self.value = value
        self.requiresGrad = true
        self.creator = (creator, index)
    }

    /// The shape of `value`.
    public var shape: [Int] { value.shape }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }

    func accumulate(_ g: Tensor<Scalar>) {
        precondition(g.shape == value.shape, "gradient of shape \(g.shape) for a value of shape \(value.shape)")
        if var existing = grad {
            existing.withUnsafeMutableBufferPointer { dst in
                g.withUnsafeBufferPointer { src in
                    for i in 0..<dst.count { dst[i] += src[i] }
                }
            }
            grad = existing
        } else {
            grad = g
        }
    }

    /// Backpropagates from this variable through every recorded operation that led to it.
    ///
    /// - Parameter seed: the gradient of the final objective with respect to this variable;
    ///   by default ones (so a scalar loss gets d loss / d loss = 1).
    /// - Throws: `RNNKitError.shapeMismatch` when `seed` does not have this variable's shape.
    public func backward(seed: Tensor<Scalar>? = nil) throws(RNNKitError) {
        let start: Tensor<Scalar>
        if let seed {
            guard seed.shape == value.shape else {
                throw .shapeMismatch(argument: "seed", expected: shapeString(value.shape), found: seed.shape,
                                     hint: "The seed is the gradient with respect to this variable, so it has its shape.")
            }
            start = seed
        } else {
            start = Tensor(validShape: value.shape, scalars: Array(repeating: 1, count: value.count))
        }
        guard requiresGrad else { return }
        accumulate(start)
        for node in TapeNode.topologicalOrder(from: self).reversed() {
            let outputGrads = node.outputs.map { $0.variable?.grad }
            if outputGrads.allSatisfy({ $0 == nil }) { continue }
            let inputGrads = node.backward(outputGrads)
            precondition(inputGrads.count == node.inputs.count, "a node returned the wrong number of gradients")
            for (input, g) in zip(node.inputs, inputGrads) where input.requiresGrad {
                if let g { input.accumulate(g) }
            }
        }
    }
}

/// One recorded coarse operation: its inputs, its outputs (held weakly, so an unused output costs
/// nothing), and a closure mapping the outputs' gradients (nil = zero) to the inputs' gradients.
final class TapeNode<Scalar: TensorScalar> {
    struct WeakOutput { weak var variable: Variable<Scalar>? }

    let inputs: [Variable<Scalar>]
    private(set) var outputs: [WeakOutput] = []
    let backward: ([Tensor<Scalar>?]) -> [Tensor<Scalar>?]

    private init(inputs: [Variable<Scalar>], backward: @escaping ([Tensor<Scalar>?]) -> [Tensor<Scalar>?]) {
        self.inputs = inputs
        self.backward = backward
    }

    /// Records an operation when any input needs a gradient; otherwise returns constant outputs.
    static func record(
        inputs: [Variable<Scalar>], outputs: [Tensor<Scalar>],
        backward: @escaping ([Tensor<Scalar>?]) -> [Tensor<Scalar>?]
    ) -> [Variable<Scalar>] {
        guard inputs.contains(where: { $0.requiresGrad }) else {
            return outputs.map { Variable($0) }
        }
        let node = TapeNode(inputs: inputs, backward: backward)
        let variables = outputs.enumerated().map { Variable(value: $1, creator: node, index: $0) }
        node.outputs = variables.map { WeakOutput(variable: $0) }
        return variables
    }

    /// Nodes reachable from `root`, each after every node that produced one of its inputs.
    static func topologicalOrder(from root: Variable<Scalar>) -> [TapeNode] {
        var order: [TapeNode] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative post-order walk, so deep graphs cannot overflow the stack.
        var stack: [(node: TapeNode, nextInput: Int)] = []
        if let start = root.creator?.node {
            visited.insert(ObjectIdentifier(start))
            stack.append((start, 0))
        }
        while let (node, next) = stack.last {
            if next == node.inputs.count {
                stack.removeLast()
                order.append(node)
                continue
            }
            stack[stack.count - 1].nextInput += 1
            if let child = node.inputs[next].creator?.node, visited.insert(ObjectIdentifier(child)).inserted {
                stack.append((child, 0))
            }
        }
        return order
    }
}
