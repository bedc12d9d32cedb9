import RealModule

/// A lookup table from integer ids to learned vectors, PyTorch's `nn.Embedding`.
///
/// Shapes: ids of any shape `S` → output `S + [embeddingSize]`.
/// Parameter (PyTorch name): `weight (vocabularySize, embeddingSize)`, initialised N(0, 1) as in PyTorch.
public final class Embedding<Scalar: TensorScalar>: ParameterContainer {
    public let vocabularySize: Int
    public let embeddingSize: Int
    public let weight: Variable<Scalar>  // (V, E)

    public init(vocabularySize: Int, embeddingSize: Int, generator: inout SeededGenerator) throws(RNNKitError) {
        try requirePositive(vocabularySize, "vocabularySize")
        try requirePositive(embeddingSize, "embeddingSize")
        try requireParameterMemory(Double(vocabularySize) * Double(embeddingSize), "an embedding")
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        var values = [Scalar]()
        values.reserveCapacity(vocabularySize * embeddingSize)
        for _ in 0..<(vocabularySize * embeddingSize) {
            values.append(Scalar(standardNormal(&generator)))
        }
        weight = Variable(Tensor(validShape: [vocabularySize, embeddingSize], scalars: values), requiresGrad: true)
    }

    public var namedParameters: [(name: String, variable: Variable<Scalar>)] { [("weight", weight)] }

    /// Looks up `ids` (row-major, of the given shape) without recording a gradient (inference).
    public func lookup(ids: [Int], shape: [Int]) throws(RNNKitError) -> Tensor<Scalar> {
        try check(ids: ids, shape: shape)
        return Self.forward(ids: ids, shape: shape, weight: weight.value)
    }

    /// Looks up `ids` and records the lookup for `backward()`.
    public func callAsFunction(ids: [Int], shape: [Int]) throws(RNNKitError) -> Variable<Scalar> {
        try check(ids: ids, shape: shape)
        return Self.recordedLookup(ids: ids, shape: shape, weight: weight)
    }

    /// The lookup of valid `ids` in `weight` (V, E), recorded for `backward()`.
    static func recordedLookup(ids: [Int], shape: [Int], weight: Variable<Scalar>) -> Variable<Scalar> {
        let out = Self.forward(ids: ids, shape: shape, weight: weight.value)
        let (v, e) = (weight.shape[0], weight.shape[1])
        return TapeNode.record(inputs: [weight], outputs: [out]) { grads in
            guard let dy = grads[0] else { return [nil] }
            // dW[id] += dy row, for every position that looked id up.
            var dw = Tensor<Scalar>(zeros: [v, e])
            dw.withUnsafeMutableBufferPointer { dw in
                dy.withUnsafeBufferPointer { dy in
                    for (n, id) in ids.enumerated() {
                        for j in 0..<e { dw[id * e + j] += dy[n * e + j] }
                    }
                }
            }
            return [dw]
        }[0]
    }

    private func check(ids: [Int], shape: [Int]) throws(RNNKitError) {
        try Tensor<Scalar>.checkShape(shape, argument: "shape")
        guard shape.reduce(1, *) == ids.count else {
            throw .shapeMismatch(argument: "ids", expected: shapeString(shape) + " (\(shape.reduce(1, *)) ids)",
                                 found: [ids.count], hint: "Pass one id per position of the shape.")
        }
        if let (position, id) = ids.enumerated().first(where: { $0.element < 0 || $0.element >= vocabularySize }) {
            throw .invalidValue(argument: "ids[\(position)]", expected: "an id in 0..<\(vocabularySize)", found: "\(id)",
                                hint: "Ids index the vocabulary; grow vocabularySize or map unknown ids to a reserved one.")
        }
    }

    static func forward(ids: [Int], shape: [Int], weight: Tensor<Scalar>) -> Tensor<Scalar> {
        let e = weight.shape[1]
        var out = Tensor<Scalar>(zeros: shape + [e])
        out.withUnsafeMutableBufferPointer { out in
            weight.withUnsafeBufferPointer { w in
                for (n, id) in ids.enumerated() {
                    (out.baseAddress! + n * e).update(from: w.baseAddress! + id * e, count: e)
                }
            }
        }
        return out
    }
}

/// One N(0, 1) draw by the Box–Muller transform (one uniform pair per draw, so streams stay simple).
func standardNormal(_ generator: inout SeededGenerator) -> Double {
    let u1 = 1 - generator.nextUnit()  // (0, 1]: log stays finite
    let u2 = generator.nextUnit()
    return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
}
