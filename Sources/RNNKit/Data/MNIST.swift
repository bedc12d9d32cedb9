import Foundation

/// Images with one class label each, as bytes: MNIST, Fashion-MNIST or any data in their format.
public struct ImageClassificationData: Sendable {
    /// `(count, rows, columns)` pixels, 0–255.
    public var pixels: [UInt8]
    public var labels: [UInt8]
    public var count: Int
    public var rows: Int
    public var columns: Int

    /// The images at `indices`, read row by row: `(B, T = rows, F = columns)`, pixels scaled to [0, 1].
    public func batch<C: Collection<Int>>(_ indices: C) -> (images: Tensor<Float>, labels: [Int]) {
        let size = rows * columns
        var scalars = [Float]()
        scalars.reserveCapacity(indices.count * size)
        var batchLabels: [Int] = []
        batchLabels.reserveCapacity(indices.count)
        for i in indices {
            precondition(i >= 0 && i < count, "image index \(i) out of 0..<\(count)")
            for p in pixels[(i * size)..<((i + 1) * size)] { scalars.append(Float(p) / 255) }
            batchLabels.append(Int(labels[i]))
        }
        return (Tensor(validShape: [indices.count, rows, columns], scalars: scalars), batchLabels)
    }

    /// The first `n` examples and the rest (a validation split held out of a training set).
    public func split(at n: Int) -> (ImageClassificationData, ImageClassificationData) {
        let size = rows * columns
        let n = Swift.max(0, Swift.min(n, count))
        let first = ImageClassificationData(pixels: Array(pixels[..<(n * size)]), labels: Array(labels[..<n]),
                                            count: n, rows: rows, columns: columns)
        let second = ImageClassificationData(pixels: Array(pixels[(n * size)...]), labels: Array(labels[n...]),
                                             count: count - n, rows: rows, columns: columns)
        return (first, second)
    }
}

/// A folder holding the four standard MNIST files, compressed or not.
public enum MNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST: RNNKit's default data.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// Classes in MNIST and Fashion-MNIST.
    public static let classCount = 10

    public enum Split: String, Sendable { case train, test }

    /// Loads one split: `train-…` (60,000 images) or `t10k-…` (10,000).
    /// - Throws: `DataError` naming the folder and how to get the files when they are missing, or
    ///   the file and the problem when one is malformed or images and labels disagree.
    public static func load(directory: String, split: Split) throws(DataError) -> ImageClassificationData {
        let prefix = split == .train ? "train" : "t10k"
        let imagesPath = try locate(directory, prefix + "-images", "idx3-ubyte")
        let labelsPath = try locate(directory, prefix + "-labels", "idx1-ubyte")
        let images = try IDX.read(path: imagesPath)
        let labels = try IDX.read(path: labelsPath)
        guard images.dimensions.count == 3 else {
            throw .malformed(path: imagesPath, problem: "images are not a stack of 2-D images", expected: "3 dimensions (N, rows, columns)",
                             found: "\(images.dimensions.count) (\(images.dimensions))", hint: "Is this a labels file?")
        }
        guard labels.dimensions.count == 1 else {
            throw .malformed(path: labelsPath, problem: "labels are not a list", expected: "1 dimension (N)",
                             found: "\(labels.dimensions.count) (\(labels.dimensions))", hint: "Is this an images file?")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw .malformed(path: labelsPath, problem: "images and labels disagree",
                             expected: "\(images.dimensions[0]) labels, one per image in \(imagesPath)",
                             found: "\(labels.dimensions[0])", hint: "The two files come from different data sets or versions.")
        }
        if let bad = labels.bytes.first(where: { Int($0) >= classCount }) {
            throw .malformed(path: labelsPath, problem: "label out of range", expected: "classes 0–\(classCount - 1)",
                             found: "\(bad)", hint: "RNNKit's MNIST models have \(classCount) classes.")
        }
        return ImageClassificationData(pixels: images.bytes, labels: labels.bytes, count: images.dimensions[0],
                                       rows: images.dimensions[1], columns: images.dimensions[2])
    }

    /// Finds `stem-kind` or `stem.kind`, raw or `.gz`.
    private static func locate(_ directory: String, _ stem: String, _ kind: String) throws(DataError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .missing(path: directory, what: "data folder", hint: howToGetData)
        }
        for name in ["\(stem)-\(kind)", "\(stem).\(kind)"] {
            for candidate in [name + ".gz", name] {
                let path = (directory as NSString).appendingPathComponent(candidate)
                if FileManager.default.fileExists(atPath: path) { return path }
            }
        }
        throw .missing(path: directory, what: "\(stem)-\(kind)[.gz]", hint: howToGetData)
    }

    static let howToGetData = "Install Fashion-MNIST with `sudo apt-get install dataset-fashion-mnist` (it goes to "
        + "\(defaultDirectory)), or pass --data DIR with a folder holding train-images-idx3-ubyte, "
        + "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz)."
}
