import Foundation
import RNNKit

/// Uniform random tensor for tests.
func randomTensor<S: TensorScalar>(_ shape: [Int], _ generator: inout SeededGenerator,
                                   low: S = -1, high: S = 1) throws -> Tensor<S> {
    try Tensor<S>.uniform(shape: shape, low: low, high: high, generator: &generator)
}

/// The worst disagreement between analytic and central-difference gradients.
struct GradientReport: CustomStringConvertible {
    var worstRelativeError = 0.0
    var worstPlace = "nothing checked"
    var checked = 0
    var description: String { "worst relative error \(worstRelativeError) at \(worstPlace) over \(checked) entries" }
}

/// Checks d loss / d v for every entry of every variable against central differences in Double.
///
/// The five-point stencil `(−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / 12h` has truncation error
/// O(h⁴), so h can be large enough (1e-3) that round-off stays near 1e-12: the plain two-point
/// difference with h = 1e-6 already errs by ~1e-9 on a loss of size 10, too coarse for a 1e-6
/// relative test on gradients of 1e-5.
///
/// Relative error is `|analytic − numeric| / max(|analytic|, |numeric|, floor)`; the floor (1e-4)
/// keeps round-off on gradients that are essentially zero from counting as relative error, and such
/// entries are still held to an absolute error of `1e-4 × tolerance`.
func checkGradients(
    _ variables: [(name: String, variable: Variable<Double>)],
    step h: Double = 1e-3,
    loss: () throws -> Variable<Double>
) throws -> GradientReport {
    for (_, v) in variables { v.zeroGrad() }
    try loss().backward()
    var report = GradientReport()
    for (name, v) in variables {
        let analytic = try v.grad ?? Tensor<Double>(repeating: 0, shape: v.shape)
        for i in 0..<v.value.count {
            let original = v.value.scalars[i]
            func lossAt(_ offset: Double) throws -> Double {
                v.value.withUnsafeMutableBufferPointer { $0[i] = original + offset }
                return try loss().value.scalars[0]
            }
            let numeric = (8 * (try lossAt(h) - lossAt(-h)) - (try lossAt(2 * h) - lossAt(-2 * h))) / (12 * h)
            v.value.withUnsafeMutableBufferPointer { $0[i] = original }
            let a = analytic.scalars[i]
            let error = abs(a - numeric) / max(abs(a), abs(numeric), 1e-4)
            report.checked += 1
            if error > report.worstRelativeError || !error.isFinite {
                report.worstRelativeError = error
                report.worstPlace = "\(name)[\(i)] analytic \(a) numeric \(numeric)"
            }
        }
    }
    return report
}

/// Σ value ⊙ weights with fixed random weights: a scalar that depends on every entry of `value`.
func projection(_ value: Variable<Double>, seed: UInt64) throws -> Variable<Double> {
    var g = SeededGenerator(seed: seed)
    return try (value * Variable(randomTensor(value.shape, &g))).sum()
}

/// Path of a file under Tests/RNNKitTests/Fixtures.
func fixtureURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name)
}

/// A toy MNIST-format folder: images of `rows × columns` where class c lights row c (plus noise),
/// so a small recurrent model can learn it exactly. Returns the folder's path.
func writeToyMNIST(train: Int = 200, test: Int = 50, rows: Int = 10, columns: Int = 4, seed: UInt64 = 1) throws -> String {
    let dir = NSTemporaryDirectory() + "rnnkit-toy-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var g = SeededGenerator(seed: seed)
    for (split, n) in [("train", train), ("t10k", test)] {
        var pixels = [UInt8](), labels = [UInt8]()
        for i in 0..<n {
            let label = i % 10
            labels.append(UInt8(label))
            for r in 0..<rows {
                for _ in 0..<columns { pixels.append(r == label ? 200 + UInt8(g.next() % 56) : UInt8(g.next() % 40)) }
            }
        }
        try IDX.write(IDXArray(dimensions: [n, rows, columns], bytes: pixels), to: dir + "/\(split)-images-idx3-ubyte.gz", compressed: true)
        try IDX.write(IDXArray(dimensions: [n], bytes: labels), to: dir + "/\(split)-labels-idx1-ubyte", compressed: false)
    }
    return dir
}
