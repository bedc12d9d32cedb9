import Foundation
import RNNKit
import Testing

/// IDX and MNIST-folder reading on small synthetic files the tests write themselves.
@Suite struct IDXTests {
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "rnnkit-idx-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `n` images of `rows × columns` whose pixel p of image i is (i·7 + p) mod 256, label i mod 10.
    static func writeFolder(_ dir: String, n: Int = 12, rows: Int = 4, columns: Int = 3,
                            compressed: Bool, split: String = "train") throws {
        let pixels = (0..<(n * rows * columns)).map { UInt8((($0 / (rows * columns)) * 7 + $0 % (rows * columns)) % 256) }
        try IDX.write(IDXArray(dimensions: [n, rows, columns], bytes: pixels),
                      to: dir + "/\(split)-images-idx3-ubyte" + (compressed ? ".gz" : ""), compressed: compressed)
        try IDX.write(IDXArray(dimensions: [n], bytes: (0..<n).map { UInt8($0 % 10) }),
                      to: dir + "/\(split)-labels-idx1-ubyte" + (compressed ? ".gz" : ""), compressed: compressed)
    }

    @Test(arguments: [false, true])
    func roundTrip(compressed: Bool) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let array = IDXArray(dimensions: [3, 2, 5], bytes: (0..<30).map { UInt8($0 * 8) })
        let path = dir + "/x-idx3-ubyte" + (compressed ? ".gz" : "")
        try IDX.write(array, to: path, compressed: compressed)
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect((raw.prefix(2) == Data([0x1F, 0x8B])) == compressed)
        #expect(try IDX.read(path: path) == array)
    }

    @Test(arguments: [false, true])
    func loadsAFolderRowByRow(compressed: Bool) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeFolder(dir, compressed: compressed)
        let data = try MNIST.load(directory: dir, split: .train)
        #expect(data.count == 12 && data.rows == 4 && data.columns == 3)
        let (images, labels) = data.batch([11, 2])
        #expect(images.shape == [2, 4, 3])
        #expect(labels == [1, 2])
        #expect(images[0, 1, 2] == Float((11 * 7 + 5) % 256) / 255)  // image 11, row 1, column 2 = pixel 5
        #expect(images[1, 0, 0] == Float(14) / 255)
        let (validation, train) = data.split(at: 5)
        #expect(validation.count == 5 && train.count == 7 && train.labels.first == 5)
    }

    struct Malformed: CustomTestStringConvertible, Sendable {
        var name: String
        var fileName: String
        var bytes: [UInt8]
        var fragments: [String]
        var testDescription: String { name }
    }

    static let header: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 4]

    static let malformed: [Malformed] = [
        Malformed(name: "empty file", fileName: "a-idx1-ubyte", bytes: [], fragments: ["too short", "found 0"]),
        Malformed(name: "bad magic", fileName: "a-idx1-ubyte", bytes: [1, 2, 8, 1, 0, 0, 0, 1, 5],
                  fragments: ["bad magic number", "01 02 08 01"]),
        Malformed(name: "float elements", fileName: "a-idx1-ubyte", bytes: [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0],
                  fragments: ["unsupported element type", "0x0D", "unsigned byte"]),
        Malformed(name: "too many dimensions", fileName: "a-idx1-ubyte", bytes: [0, 0, 8, 9], fragments: ["dimensions", "1 to 4", "found 9"]),
        Malformed(name: "truncated header", fileName: "a-idx3-ubyte", bytes: [0, 0, 8, 3, 0, 0, 0, 1, 0],
                  fragments: ["truncated header", "16 bytes"]),
        Malformed(name: "truncated data", fileName: "a-idx1-ubyte", bytes: header + [1, 2, 3],
                  fragments: ["truncated data", "4 bytes", "found 3 bytes"]),
        Malformed(name: "extra bytes", fileName: "a-idx1-ubyte", bytes: header + [1, 2, 3, 4, 5],
                  fragments: ["extra bytes", "found 5 bytes"]),
        Malformed(name: "empty dimension", fileName: "a-idx1-ubyte", bytes: [0, 0, 8, 1, 0, 0, 0, 0], fragments: ["empty dimension"]),
        Malformed(name: "huge sizes", fileName: "a-idx3-ubyte", bytes: [0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255],
                  fragments: ["shorter than its sizes", "truncated"]),
        Malformed(name: "named .gz but raw", fileName: "a-idx1-ubyte.gz", bytes: header + [1, 2, 3, 4],
                  fragments: ["not gzip-compressed", "1f 8b", "00 00 08 01", "Rename"]),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedFiles(_ m: Malformed) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + m.fileName
        try Data(m.bytes).write(to: URL(fileURLWithPath: path))
        checkDataError(try IDX.read(path: path), path: path, fragments: m.fragments)
    }

    @Test func rejectsDamagedGzip() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a-idx1-ubyte.gz"
        try IDX.write(IDXArray(dimensions: [1000], bytes: (0..<1000).map { UInt8($0 % 251) }), to: path, compressed: true)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
        checkDataError(try IDX.read(path: path), path: path, fragments: ["damaged gzip data"])
    }

    @Test func folderErrorsSayHowToGetTheData() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        checkDataError(try MNIST.load(directory: dir + "/nowhere", split: .train), path: dir + "/nowhere",
                        fragments: ["data folder not found", "apt-get install dataset-fashion-mnist", "--data DIR"])
        try Self.writeFolder(dir, compressed: false)
        checkDataError(try MNIST.load(directory: dir, split: .test), path: dir,
                        fragments: ["t10k-images-idx3-ubyte[.gz] not found", "--data DIR"])
    }

    @Test func imagesAndLabelsMustAgree() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeFolder(dir, compressed: false)
        try IDX.write(IDXArray(dimensions: [11], bytes: Array(repeating: 1, count: 11)), to: dir + "/train-labels-idx1-ubyte", compressed: false)
        checkDataError(try MNIST.load(directory: dir, split: .train), path: dir + "/train-labels-idx1-ubyte",
                        fragments: ["images and labels disagree", "12 labels", "found 11"])
        try IDX.write(IDXArray(dimensions: [12], bytes: Array(repeating: 10, count: 12)), to: dir + "/train-labels-idx1-ubyte", compressed: false)
        checkDataError(try MNIST.load(directory: dir, split: .train), path: dir + "/train-labels-idx1-ubyte",
                        fragments: ["label out of range", "found 10"])
        try IDX.write(IDXArray(dimensions: [12], bytes: Array(repeating: 1, count: 12)), to: dir + "/train-images-idx3-ubyte", compressed: false)
        checkDataError(try MNIST.load(directory: dir, split: .train), path: dir + "/train-images-idx3-ubyte",
                        fragments: ["not a stack of 2-D images", "found 1"])
    }
}

func checkDataError<T>(_ body: @autoclosure () throws -> T, path: String, fragments: [String],
                        sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try body()
        Issue.record("no error for \(path)", sourceLocation: sourceLocation)
    } catch let error as DataError {
        let message = error.description
        #expect(message.hasPrefix(path), "message should start with the file: \(message)", sourceLocation: sourceLocation)
        for f in fragments {
            #expect(message.contains(f), "'\(f)' missing from: \(message)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("threw \(error), not a DataError", sourceLocation: sourceLocation)
    }
}
