/// A dense, row-major array of `Float` or `Double` with a shape.
///
/// Tensors are values (copy-on-write through their `scalars` array). The layers take and
/// return them; `Variable` wraps one to record gradients.
public struct Tensor<Scalar: TensorScalar>: Equatable, Sendable, CustomStringConvertible {
    /// The size of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
    public private(set) var scalars: [Scalar]

    /// Creates a tensor from its elements in row-major order.
    /// - Throws: `RNNKitError.shapeMismatch` when `scalars.count` is not the product of `shape`,
    ///   `RNNKitError.invalidValue` when a dimension is negative.
    public init(shape: [Int], scalars: [Scalar]) throws(RNNKitError) {
        try Tensor.checkShape(shape, argument: "shape")
        let count = shape.reduce(1, *)
        guard scalars.count == count else {
            throw .invalidValue(
                argument: "scalars", expected: "\(count) elements for shape \(shapeString(shape))",
                found: "\(scalars.count)", hint: "Pass exactly one element per position of the shape.")
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// Internal initializer for shapes the caller has already validated.
    init(validShape shape: [Int], scalars: [Scalar]) {
        precondition(shape.allSatisfy { $0 >= 0 } && scalars.count == shape.reduce(1, *),
                     "tensor of shape \(shape) built from \(scalars.count) scalars")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of the given shape filled with `value` (zero by default).
    public init(repeating value: Scalar = 0, shape: [Int]) throws(RNNKitError) {
        try Tensor.checkShape(shape, argument: "shape")
        self.init(validShape: shape, scalars: Array(repeating: value, count: shape.reduce(1, *)))
    }

    /// Internal zero tensor for a validated shape.
    init(zeros shape: [Int]) {
        let count = shape.reduce(1, *)
        // All-zero bits are 0.0 in Float and Double; a raw fill avoids a per-element generic copy.
        let scalars = [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
            initialized = count
        }
        self.init(validShape: shape, scalars: scalars)
    }

    /// A tensor whose elements are left unset, for buffers the caller overwrites in full before
    /// reading (the engine's per-step stores): it saves a pass over memory that `zeros` makes.
    init(unfilled shape: [Int]) {
        let count = shape.reduce(1, *)
        self.init(validShape: shape, scalars: [Scalar](unfilled: count))
    }

    /// A tensor of independent draws from U(low, high).
    public static func uniform(
        shape: [Int], low: Scalar, high: Scalar, generator: inout SeededGenerator
    ) throws(RNNKitError) -> Tensor {
        try checkShape(shape, argument: "shape")
        let count = shape.reduce(1, *)
        var values = [Scalar]()
        values.reserveCapacity(count)
        for _ in 0..<count {
            values.append(low + (high - low) * Scalar(generator.nextUnit()))
        }
        return Tensor(validShape: shape, scalars: values)
    }

    /// Number of elements.
    public var count: Int { scalars.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The element at a full index, one entry per dimension. Out-of-range indices are a programmer
    /// error and trap, like an array subscript.
    public subscript(_ index: Int...) -> Scalar {
        get { scalars[offset(index)] }
        set { scalars[offset(index)] = newValue }
    }

    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for a tensor of shape \(shape)")
        var offset = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "index \(index) out of range for shape \(shape)")
            offset = offset * n + i
        }
        return offset
    }

    /// The same elements under another shape with the same number of elements.
    public func reshaped(_ newShape: [Int]) throws(RNNKitError) -> Tensor {
        try Tensor.checkShape(newShape, argument: "newShape")
        guard newShape.reduce(1, *) == count else {
            throw .shapeMismatch(argument: "newShape", expected: "\(count) elements like \(shapeString(shape))",
                                 found: newShape, hint: "A reshape keeps the number of elements.")
        }
        return Tensor(validShape: newShape, scalars: scalars)
    }

    /// Read access to the elements without copying.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Write access to the elements in place; the shape cannot change.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }

    /// Sum of all elements.
    public func sum() -> Scalar { scalars.reduce(0, +) }

    /// The largest absolute difference between two tensors of the same shape (a test helper).
    public func maxAbsDifference(_ other: Tensor) throws(RNNKitError) -> Scalar {
        try Tensor.checkSameShape(self, other, argument: "other")
        var worst: Scalar = 0
        for (a, b) in zip(scalars, other.scalars) { worst = max(worst, abs(a - b)) }
        return worst
    }

    /// Converts every element to another scalar type.
    public func converted<Other: TensorScalar>(to _: Other.Type = Other.self) -> Tensor<Other> {
        Tensor<Other>(validShape: shape, scalars: scalars.map { Other($0) })
    }

    /// Matrix product of two rank-2 tensors: `(m, k) · (k, n) → (m, n)`, through BLAS.
    public func matmul(_ other: Tensor) throws(RNNKitError) -> Tensor {
        guard rank == 2 else {
            throw .shapeMismatch(argument: "self", expected: "(m, k)", found: shape, hint: "matmul takes rank-2 tensors.")
        }
        guard other.rank == 2, other.shape[0] == shape[1] else {
            throw .shapeMismatch(argument: "other", expected: "(\(shape[1]), n)", found: other.shape,
                                 hint: "The inner dimensions of a matrix product must agree.")
        }
        let (m, k, n) = (shape[0], shape[1], other.shape[1])
        var result = Tensor(zeros: [m, n])
        if m > 0 && n > 0 && k > 0 {
            matmulRaw(m: m, k: k, n: n, other: other, into: &result)
        }
        return result
    }

    private func matmulRaw(m: Int, k: Int, n: Int, other: Tensor, into result: inout Tensor) {
        scalars.withUnsafeBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                result.scalars.withUnsafeMutableBufferPointer { c in
                    Scalar.parallelGemm(transposeA: false, transposeB: false, m: m, n: n, k: k,
                                alpha: 1, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: n,
                                beta: 0, c: c.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// Element-wise sum of two tensors of the same shape.
    public static func + (a: Tensor, b: Tensor) throws(RNNKitError) -> Tensor {
        try checkSameShape(a, b, argument: "right operand of +")
        return Tensor(validShape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 + $1 })
    }

    /// Element-wise product of two tensors of the same shape.
    public static func * (a: Tensor, b: Tensor) throws(RNNKitError) -> Tensor {
        try checkSameShape(a, b, argument: "right operand of *")
        return Tensor(validShape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 * $1 })
    }

    public var description: String {
        let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor\(shapeString(shape)) [\(shown)\(count > 8 ? ", …" : "")]"
    }

    static func checkShape(_ shape: [Int], argument: String) throws(RNNKitError) {
        if let bad = shape.first(where: { $0 < 0 }) {
            throw .invalidValue(argument: argument, expected: "non-negative dimensions", found: "\(bad) in \(shapeString(shape))",
                                hint: "Every dimension of a shape is a count of elements.")
        }
    }

    static func checkSameShape(_ a: Tensor, _ b: Tensor, argument: String) throws(RNNKitError) {
        guard a.shape == b.shape else {
            throw .shapeMismatch(argument: argument, expected: shapeString(a.shape), found: b.shape,
                                 hint: "Element-wise operations take tensors of the same shape.")
        }
    }
}

extension Array where Element: TensorScalar {
    /// `count` values left unset: for buffers that are written in full before they are read.
    init(unfilled count: Int) { self.init(unsafeUninitializedCapacity: count) { $1 = count } }
}
