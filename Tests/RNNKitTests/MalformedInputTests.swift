import Foundation
import RNNKit
import Testing

/// What the `rnnkit` command says about bad input, one row per case: data files (IDX, gzip),
/// checkpoint folders (safetensors, config.json), text, flags and sizes that cannot fit. Each row
/// damages one thing in a copy of good files, runs the command, and checks the exit status (1 for
/// a bad file, 64 for a bad command line) and that the message names the file or flag, what was
/// wrong and what to do.
@Suite struct MalformedInputTests {
    /// Good files, made once: toy MNIST data, a trained classifier folder, a language-model folder, a text.
    final class Fixture: Sendable {
        let root: String
        init() throws {
            root = try writeToyMNIST(train: 120, test: 20)
            try FileManager.default.createDirectory(atPath: root + "/text", withIntermediateDirectories: true)
            try Data("the cat sat on the mat; the dog sat on the log.\n".utf8).write(to: URL(fileURLWithPath: root + "/text/a.txt"))
            let classifier = try runRNNKit(["train", "mnist", "--data", root, "--hidden", "8", "--batch", "50", "--validation", "20",
                                            "--epochs", "1", "--out", root + "/model"])
            guard classifier.status == 0 else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: classifier.stderr]) }
            let lm = try runRNNKit(["charlm", "train", "--text", root + "/text/a.txt", "--hidden", "8", "--embedding", "4", "--batch", "2",
                                    "--seq-len", "8", "--steps", "2", "--out", root + "/lm"])
            guard lm.status == 0 else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: lm.stderr]) }
            try Data("ab\tba\nabc\tcba\nb\tb\nca\tac\nbca\tacb\ncc\tcc\naab\tbaa\n".utf8).write(to: URL(fileURLWithPath: root + "/text/pairs.tsv"))
            let s2s = try runRNNKit(["train", "seq2seq", "--pairs", root + "/text/pairs.tsv", "--hidden", "4", "--embedding", "4", "--batch", "3",
                                     "--validation", "2", "--steps", "2", "--out", root + "/s2s"])
            guard s2s.status == 0 else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: s2s.stderr]) }
        }
        nonisolated(unsafe) static var made: Result<Fixture, Error>?
        static let lock = NSLock()
        static func shared() throws -> Fixture {
            lock.lock()
            defer { lock.unlock() }
            if made == nil { made = Result { try Fixture() } }
            return try made!.get()
        }

        /// A fresh copy of one of the good folders ("." is the MNIST data), for a case to damage.
        func copy(_ folder: String) throws -> String {
            let to = NSTemporaryDirectory() + "rnnkit-bad-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
            let source = folder == "." ? root : root + "/" + folder
            for name in try FileManager.default.contentsOfDirectory(atPath: source) {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: source + "/" + name, isDirectory: &isDirectory)
                if !isDirectory.boolValue { try FileManager.default.copyItem(atPath: source + "/" + name, toPath: to + "/" + name) }
            }
            return to
        }
    }

    /// One row: `setUp` damages a copy and returns the command line.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var environment: [String: String] = [:]
        let setUp: @Sendable (Fixture) throws -> [String]
        let status: Int32
        let message: [String]
        var testDescription: String { name }
    }

    static func write(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    static func idx(_ dims: [Int], _ data: [UInt8], type: UInt8 = 0x08) -> [UInt8] {
        [0, 0, type, UInt8(dims.count)] + dims.flatMap { d in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: d >> $0) } } + data
    }
    /// A safetensors file from a header text and data bytes.
    static func safetensors(_ header: String, _ data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        return (0..<8).map { UInt8(truncatingIfNeeded: h.count >> (8 * $0)) } + h + data
    }
    /// Data folder with the training images replaced.
    static func images(_ bytes: @escaping @Sendable () -> [UInt8], name: String = "train-images-idx3-ubyte") -> @Sendable (Fixture) throws -> [String] {
        { f in
            let d = try f.copy(".")
            try FileManager.default.removeItem(atPath: d + "/train-images-idx3-ubyte.gz")
            try write(bytes(), d + "/" + name)
            return ["train", "mnist", "--data", d, "--epochs", "1"]
        }
    }
    /// Classifier folder with model.safetensors replaced.
    static func weights(_ bytes: @escaping @Sendable (Fixture) throws -> [UInt8]) -> @Sendable (Fixture) throws -> [String] {
        { f in
            let d = try f.copy("model")
            try write(try bytes(f), d + "/model.safetensors")
            return ["eval", "mnist", "--model", d, "--data", f.root]
        }
    }
    /// Classifier folder with config.json edited as text.
    static func config(_ edit: @escaping @Sendable (String) -> String) -> @Sendable (Fixture) throws -> [String] {
        { f in
            let d = try f.copy("model")
            let text = try String(contentsOfFile: d + "/config.json", encoding: .utf8)
            try Data(edit(text).utf8).write(to: URL(fileURLWithPath: d + "/config.json"))
            return ["eval", "mnist", "--model", d, "--data", f.root]
        }
    }
    static func text(_ bytes: [UInt8], _ extra: [String] = []) -> @Sendable (Fixture) throws -> [String] {
        { f in
            let d = try f.copy("text")
            try write(bytes, d + "/t.txt")
            return ["charlm", "train", "--text", d + "/t.txt", "--steps", "1"] + extra
        }
    }
    static func flags(_ arguments: [String]) -> @Sendable (Fixture) throws -> [String] {
        { f in arguments.map { $0.replacingOccurrences(of: "DATA", with: f.root) } }
    }

    /// `rnnkit train seq2seq` on a pairs file holding `bytes`.
    static func pairs(_ bytes: [UInt8]) -> @Sendable (Fixture) throws -> [String] {
        { _ in
            let path = NSTemporaryDirectory() + "rnnkit-bad-" + UUID().uuidString + ".tsv"
            try write(bytes, path)
            return ["train", "seq2seq", "--pairs", path, "--steps", "1"]
        }
    }

    /// `rnnkit train seq2seq --preset g2p` on a dictionary holding `text`.
    static func lexicon(_ text: String) -> @Sendable (Fixture) throws -> [String] {
        { _ in
            let path = NSTemporaryDirectory() + "rnnkit-bad-" + UUID().uuidString + ".dict"
            try write(Array(text.utf8), path)
            return ["train", "seq2seq", "--preset", "g2p", "--lexicon", path, "--steps", "1"]
        }
    }

    static let images3 = (0..<(3 * 10 * 4)).map { UInt8($0 % 200) }

    /// `rnnkit train sequences` on a .ts file holding `body` after a two-class header.
    static func ts(_ text: String, header: String = "@problemName T\n@classLabel true a b\n@data\n") -> @Sendable (Fixture) throws -> [String] {
        { _ in
            let path = NSTemporaryDirectory() + "rnnkit-bad-" + UUID().uuidString + ".ts"
            try write(Array((header + text).utf8), path)
            return ["train", "sequences", "--data", path, "--epochs", "1"]
        }
    }

    /// `rnnkit train sequences` on a file `name` written by `bytes` (plus `extra` flags; FILE in them is the file's folder).
    static func sequences(_ name: String, _ extra: [String] = [], _ bytes: @escaping @Sendable (String) throws -> [UInt8])
        -> @Sendable (Fixture) throws -> [String] {
        { _ in
            let dir = NSTemporaryDirectory() + "rnnkit-bad-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try write(bytes(dir), dir + "/" + name)
            return ["train", "sequences", "--data", dir + "/" + name, "--epochs", "1"] + extra.map { $0.replacingOccurrences(of: "FILE", with: dir) }
        }
    }

    static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
    static func int64s(_ values: [Int]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: Int64($0).littleEndian, Array.init) } }
    /// x (3, 2, 1) float32 and labels (3,) int64, good unless changed.
    static let goodX = npy("<f4", [3, 2, 1], floats([1, 2, 3, 4, 5, 6]))
    static let goodY = npy("<i8", [3], int64s([0, 1, 0]))
    static func npz(_ arrays: [String: [UInt8]]) -> @Sendable (String) throws -> [UInt8] {
        { dir in
            try writeNPZ(dir + "/made.npz", arrays)
            return [UInt8](FileManager.default.contents(atPath: dir + "/made.npz")!)
        }
    }
    static let csvFlags = ["--id", "s", "--label", "y"]

    /// `rnnkit <verb> forecast` on d.csv holding `text` (train: target v, window 2, horizon 1, one epoch, plus `extra`).
    static func forecast(_ text: String, _ extra: [String] = [], verb: String = "train") -> @Sendable (Fixture) throws -> [String] {
        { f in
            let dir = NSTemporaryDirectory() + "rnnkit-bad-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try write(Array(text.utf8), dir + "/d.csv")
            let extra = extra.map { $0.replacingOccurrences(of: "DATA", with: f.root) }
            return verb == "train" ? ["train", "forecast", "--csv", dir + "/d.csv", "--target", "v", "--window", "2", "--horizon", "1",
                                      "--test", "2", "--validation", "0", "--hidden", "4", "--epochs", "1", "--out", dir + "/run"] + extra
                : [verb, "forecast", "--csv", dir + "/d.csv"] + extra
        }
    }
    static let series12 = "t,v\n" + (1...12).map { "\($0),\($0 * 3)\n" }.joined()

    static let cases: [Case] = [
        // IDX data
        Case(name: "IDX bad magic", setUp: images { [1, 2] + idx([3, 10, 4], images3).dropFirst(2) }, status: 1,
             message: ["train-images-idx3-ubyte: bad magic number", "expected 00 00 08 0n, found 01 02 08 03"]),
        Case(name: "IDX truncated data", setUp: images { idx([3, 10, 4], images3).dropLast(7) }, status: 1,
             message: ["truncated data", "expected 120 bytes for sizes 3×10×4, found 113 bytes", "download or copy it again"]),
        Case(name: "IDX extra bytes", setUp: images { idx([3, 10, 4], images3) + [0, 0] }, status: 1,
             message: ["extra bytes after the data", "found 122 bytes"]),
        Case(name: "IDX images of the wrong rank", setUp: images { idx([12, 10], images3) }, status: 1,
             message: ["images are not a stack of 2-D images", "expected 3 dimensions (N, rows, columns), found 2"]),
        Case(name: "IDX float elements", setUp: images { idx([3, 10, 4], images3, type: 0x0D) }, status: 1,
             message: ["unsupported element type", "expected 0x08 (unsigned byte), found 0x0D"]),
        Case(name: "IDX empty file", setUp: images { [] }, status: 1, message: ["file too short for an IDX header", "found 0"]),
        Case(name: "IDX image and label counts differ", setUp: images { idx([3, 10, 4], images3) }, status: 1,
             message: ["train-labels-idx1-ubyte: images and labels disagree", "expected 3 labels", "found 120"]),
        Case(name: "IDX named .gz but not gzip", setUp: images({ idx([3, 10, 4], images3) }, name: "train-images-idx3-ubyte.gz"), status: 1,
             message: ["not gzip-compressed although named .gz", "Rename the file without .gz"]),
        Case(name: "IDX damaged gzip", setUp: { f in
                 let d = try f.copy(".")
                 let gz = try read(d + "/train-images-idx3-ubyte.gz")
                 try write(Array(gz.prefix(gz.count / 2)), d + "/train-images-idx3-ubyte.gz")
                 return ["train", "mnist", "--data", d]
             }, status: 1, message: ["damaged gzip data", "Download or copy the file again"]),
        Case(name: "IDX label out of range", setUp: { f in
                 let d = try f.copy(".")
                 try write(idx([120], (0..<120).map { UInt8($0 == 7 ? 12 : $0 % 10) }), d + "/train-labels-idx1-ubyte")
                 return ["train", "mnist", "--data", d]
             }, status: 1, message: ["label out of range", "expected classes 0–9, found 12"]),
        Case(name: "IDX data folder missing", setUp: flags(["train", "mnist", "--data", "/nonexistent/fashion"]), status: 1,
             message: ["/nonexistent/fashion", "apt-get install dataset-fashion-mnist", "--data DIR"]),
        Case(name: "IDX gzip that inflates past memory", environment: ["RNNKIT_MEMORY_LIMIT": "4M"],
             setUp: images({ Gzip_compress(idx([100_000, 10, 4], [UInt8](repeating: 0, count: 4_000_000))) }, name: "train-images-idx3-ubyte.gz"),
             status: 1, message: ["inflating this gzip file", "more than the 4.0 MiB of memory available", "RNNKIT_MEMORY_LIMIT"]),
        Case(name: "IDX file larger than memory", setUp: { f in
                 let d = try f.copy(".")
                 try FileManager.default.removeItem(atPath: d + "/train-images-idx3-ubyte.gz")
                 _ = FileManager.default.createFile(atPath: d + "/train-images-idx3-ubyte", contents: nil)
                 let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: d + "/train-images-idx3-ubyte"))
                 try handle.truncate(atOffset: 1 << 40)  // sparse: takes no disk
                 try handle.close()
                 return ["train", "mnist", "--data", d]
             }, status: 1, message: ["reading this 1.0 TiB file needs about 4.0 TiB", "use a subset of the file"]),
        // safetensors
        Case(name: "safetensors header length past the end", setUp: weights { _ in [255, 255, 0, 0, 0, 0, 0, 0] + Array("{}".utf8) },
             status: 1, message: ["model.safetensors: bad header length", "expected at most 2 bytes, found 65535"]),
        Case(name: "safetensors invalid JSON", setUp: weights { _ in safetensors("{\"a\": [") }, status: 1,
             message: ["invalid JSON header", "save it again"]),
        Case(name: "safetensors offsets out of range", setUp: weights { _ in
                 safetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0]) }, status: 1,
             message: ["offsets of tensor 'w' out of range", "0 ≤ begin ≤ end ≤ 4", "[0, 8]"]),
        Case(name: "safetensors overlapping tensors", setUp: weights { _ in
                 safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                             [UInt8](repeating: 0, count: 8)) }, status: 1,
             message: ["tensors 'a' and 'b' overlap", "disjoint byte ranges"]),
        Case(name: "safetensors unknown dtype", setUp: weights { _ in
                 safetensors(#"{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]) }, status: 1,
             message: ["unsupported dtype of tensor 'w'", "F32 or F64", "BF16", "model.float()"]),
        Case(name: "safetensors size does not match shape", setUp: weights { _ in
                 safetensors(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8)) }, status: 1,
             message: ["size of tensor 'w' does not match its shape", "[3] × 4 bytes", "found 8 bytes"]),
        Case(name: "safetensors missing a tensor", setUp: weights { f in
                 var (t, m) = try SafeTensors.read(path: f.root + "/model/model.safetensors", as: Float.self)
                 t["fc.bias"] = nil
                 return SafeTensors.encode(t, metadata: m)
             }, status: 1, message: ["tensors do not match config.json", "missing [\"fc.bias\"]", "another architecture"]),
        Case(name: "safetensors an extra tensor", setUp: weights { f in
                 var (t, m) = try SafeTensors.read(path: f.root + "/model/model.safetensors", as: Float.self)
                 t["fc.scale"] = try Tensor(repeating: 1, shape: [10])
                 return SafeTensors.encode(t, metadata: m)
             }, status: 1, message: ["tensors do not match config.json", "extra [\"fc.scale\"]"]),
        Case(name: "safetensors tensor of the wrong shape", setUp: weights { f in
                 var (t, m) = try SafeTensors.read(path: f.root + "/model/model.safetensors", as: Float.self)
                 t["fc.bias"] = try Tensor(repeating: 1, shape: [11])
                 return SafeTensors.encode(t, metadata: m)
             }, status: 1, message: ["tensor 'fc.bias' has the wrong shape", "expected (10), found (11)"]),
        // config.json
        Case(name: "config invalid JSON", setUp: config { String($0.dropLast(3)) }, status: 1,
             message: ["config.json: invalid JSON", "Check the file's syntax"]),
        Case(name: "config missing field", setUp: config { $0.replacingOccurrences(of: "\"hiddenSize\"", with: "\"hidden\"") }, status: 1,
             message: ["config.json: missing field", "'model.recurrent.hiddenSize'", "README"]),
        Case(name: "config wrong type", setUp: config { $0.replacingOccurrences(of: "\"hiddenSize\" : 8", with: "\"hiddenSize\" : \"eight\"") },
             status: 1, message: ["config.json: wrong type", "'model.recurrent.hiddenSize'"]),
        Case(name: "config unknown cell", setUp: config { $0.replacingOccurrences(of: "\"lstm\"", with: "\"lstn\"") }, status: 1,
             message: ["config.json: invalid value", "'model.recurrent.cell'"]),
        Case(name: "config sizes that do not match the weights",
             setUp: config { $0.replacingOccurrences(of: "\"hiddenSize\" : 8", with: "\"hiddenSize\" : 9") }, status: 1,
             message: ["model.safetensors: tensor 'rnn.weight_ih_l0' has the wrong shape", "expected (36, 4), found (32, 4)",
                       "config.json's sizes do not match the weights"]),
        Case(name: "config absurd size", setUp: config { $0.replacingOccurrences(of: "\"hiddenSize\" : 8", with: "\"hiddenSize\" : 3000000000") },
             status: 1, message: ["config.json: invalid model", "parameters needs about", "of memory available"]),
        Case(name: "config negative size", setUp: config { $0.replacingOccurrences(of: "\"numLayers\" : 1", with: "\"numLayers\" : -2") },
             status: 1, message: ["config.json: invalid model", "numLayers"]),
        Case(name: "config of another task", setUp: { f in ["eval", "mnist", "--model", try f.copy("lm")] }, status: 1,
             message: ["config.json: not an image-row classifier", "expected task \"mnist\", found \"charlm\"", "rnnkit charlm eval"]),
        // text
        Case(name: "text invalid UTF-8", setUp: text(Array("abc".utf8) + [0xC3, 0x28] + Array("def".utf8)), status: 1,
             message: ["t.txt: invalid UTF-8 at byte 3", "bytes c3 28", "iconv"]),
        Case(name: "text empty", setUp: text([]), status: 1, message: ["t.txt: empty text", "found 0 bytes"]),
        Case(name: "text shorter than a batch", setUp: text(Array("abcdefghijklmnopqrstuvwxyz".utf8), ["--batch", "50"]), status: 1,
             message: ["at least batch + 1", "smaller --batch"]),
        Case(name: "text missing", setUp: flags(["charlm", "train", "--text", "/nonexistent/poems.txt"]), status: 1,
             message: ["/nonexistent/poems.txt: file not found"]),
        Case(name: "text larger than memory", environment: ["RNNKIT_MEMORY_LIMIT": "100"], setUp: text(Array(repeating: 97, count: 200)),
             status: 1, message: ["reading this 200 bytes file needs about 3.9 KiB", "more than the 100 bytes of memory available"]),
        // flags
        Case(name: "flag --distributed outside mpirun", setUp: flags(["train", "mnist", "--distributed"]), status: 1,
             message: ["expected a process started by mpirun or srun", "mpirun -np N rnnkit train", "leave out --distributed"]),
        Case(name: "flag --distributed without Open MPI's library",
             environment: ["OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "1", "RNNKIT_MPI_LIBRARY": "/nonexistent/libmpi.so.40"],
             setUp: flags(["train", "mnist", "--distributed"]), status: 1,
             message: ["cannot load /nonexistent/libmpi.so.40", "apt-get install openmpi-bin"]),
        Case(name: "flag zero size", setUp: flags(["train", "mnist", "--hidden", "0"]), status: 64, message: ["--hidden must be at least 1 (found 0)"]),
        Case(name: "flag negative size", setUp: flags(["charlm", "train", "--text", "x", "--seq-len=-5"]), status: 64,
             message: ["--seq-len must be at least 1 (found -5)"]),
        Case(name: "flag not a number", setUp: flags(["train", "mnist", "--batch", "many"]), status: 64,
             message: ["The value 'many' is invalid for '--batch <batch>'"]),
        Case(name: "flag unknown cell", setUp: flags(["train", "mnist", "--cell", "transformer"]), status: 64,
             message: ["'transformer'", "lstm", "gru"]),
        Case(name: "flag unknown preset", setUp: flags(["charlm", "train", "--preset", "shakespeare"]), status: 64,
             message: ["unknown preset 'shakespeare'", "seed-sentence"]),
        Case(name: "flag dropout of 1", setUp: flags(["train", "mnist", "--dropout", "1"]), status: 64,
             message: ["--dropout must be a rate in [0, 1) (found 1.0)"]),
        Case(name: "flag negative dropout", setUp: flags(["charlm", "train", "--text", "x", "--dropout=-0.1"]), status: 64,
             message: ["--dropout must be a rate in [0, 1) (found -0.1)"]),
        Case(name: "flag infinite learning rate", setUp: flags(["train", "mnist", "--lr", "inf"]), status: 64,
             message: ["--lr must be a positive number (found inf)"]),
        Case(name: "flags in conflict", setUp: flags(["train", "mnist", "--epochs", "2", "--samples", "10"]), status: 64,
             message: ["--epochs and --samples both set the training budget; give one of them"]),
        Case(name: "flags that cannot change on resume", setUp: { f in ["train", "mnist", "--resume", try f.copy("model"), "--batch", "7"] },
             status: 64, message: ["--batch cannot change it", "Start a new run with --out"]),
        Case(name: "flag unknown", setUp: flags(["train", "mnist", "--hiden", "8"]), status: 64, message: ["Unknown option '--hiden'"]),
        Case(name: "batch too large for memory", setUp: flags(["train", "mnist", "--data", "DATA", "--batch", "2000000000"]), status: 1,
             message: ["training with batch 2000000000 (10 steps each) needs about", "Lower --batch"]),
        Case(name: "model too large for memory", setUp: flags(["charlm", "train", "--text", "DATA/text/a.txt", "--hidden", "2000000"]),
             status: 1, message: ["a recurrent stack of", "parameters needs about", "Lower the hidden size"]),
        // UEA/UCR .ts sequences
        Case(name: "ts empty", setUp: ts("", header: ""), status: 1, message: [".ts: empty file", "UEA/UCR .ts file"]),
        Case(name: "ts no @data", setUp: ts("", header: "@problemName T\n@classLabel true a b\n"), status: 1,
             message: ["no @data line", "Is this a UEA/UCR .ts file?"]),
        Case(name: "ts no cases", setUp: ts(""), status: 1, message: ["no cases after @data"]),
        Case(name: "ts time stamps", setUp: ts("(0,1),(1,2):a\n", header: "@timeStamps TRUE\n@classLabel true a b\n@data\n"), status: 1,
             message: ["line 1: time-stamped data", "drop the time stamps"]),
        Case(name: "ts unknown class", setUp: ts("1,2:a\n3,4:c\n"), status: 1,
             message: ["line 5: unknown class 'c'", "List every class on the @classLabel line"]),
        Case(name: "ts ragged dimensions", setUp: ts("1,2:3,4:a\n1,2,3:4:b\n"), status: 1,
             message: ["line 5: dimensions of different lengths", "lengths 3, 1"]),
        Case(name: "ts dimension count changes", setUp: ts("1,2:3,4:a\n1,2:b\n"), status: 1,
             message: ["line 5: 1 dimension(s)", "expected 2, as in the cases before"]),
        Case(name: "ts not a number", setUp: ts("1,x,3:a\n"), status: 1, message: ["line 4: dimension 1 holds 'x'", "? for missing"]),
        Case(name: "ts infinite value", setUp: ts("1,inf:a\n"), status: 1, message: ["line 4: dimension 1 holds 'inf'"]),
        Case(name: "ts class list missing", setUp: ts("1:a\n", header: "@classLabel true\n@data\n"), status: 1,
             message: ["@classLabel true lists no classes"]),
        Case(name: "ts target not a number", setUp: ts("1,2:abc\n", header: "@targetLabel true\n@data\n"), status: 1,
             message: ["line 3: target is not a number"]),
        Case(name: "ts no labels to train on", setUp: ts("1,2\n", header: "@classLabel false\n@data\n"), status: 64,
             message: ["has no labels; training needs them (.ts: @classLabel or @targetLabel"]),
        Case(name: "ts unknown extension", setUp: flags(["train", "sequences", "--data", "DATA/text/a.txt"]), status: 64,
             message: ["unknown sequence format '.txt'"]),
        Case(name: "ts model of another task", setUp: { f in ["eval", "sequences", "--model", try f.copy("model"), "--data", "x.ts"] },
             status: 1, message: ["not a sequence model", "expected task \"sequences\", found \"mnist\"", "rnnkit eval mnist"]),
        // NumPy .npy / .npz sequences
        Case(name: "npy empty", setUp: sequences("x.npy") { _ in [] }, status: 1, message: ["x.npy: empty file", "numpy.save"]),
        Case(name: "npy bad magic", setUp: sequences("x.npy") { _ in Array("PK not numpy at all".utf8) }, status: 1,
             message: ["not a NumPy .npy file", "\\x93NUMPY"]),
        Case(name: "npy truncated data", setUp: sequences("x.npy") { _ in goodX.dropLast(5) }, status: 1,
             message: ["truncated data", "expected 24 bytes for shape (3, 2, 1) of <f4, found 19", "write it again"]),
        Case(name: "npy huge declared shape", setUp: sequences("x.npy") { _ in npy("<f4", [1_000_000_000, 1_000_000, 8], floats([1])) },
             status: 1, message: ["declared shape (1000000000, 1000000, 8) is larger than the file"]),
        Case(name: "npy object dtype", setUp: sequences("x.npy") { _ in npy("|O", [3], [0x80, 0x02, 0x4E]) }, status: 1,
             message: ["an object array (pickled Python objects)", "dtype=numpy.float32"]),
        Case(name: "npy complex dtype", setUp: sequences("x.npy") { _ in npy("<c8", [1], [UInt8](repeating: 0, count: 8)) }, status: 1,
             message: ["dtype '<c8' is not read", "a.astype(numpy.float32)"]),
        Case(name: "npy header without shape", setUp: sequences("x.npy") { _ in
                 Array(String(decoding: npy("<f4", [1], floats([1])).dropFirst(10), as: UTF8.self)
                     .replacingOccurrences(of: "'shape'", with: "'zhape'").utf8).withPrefix(Array(npy("<f4", [1], []).prefix(10))) }, status: 1,
             message: ["header has no 'shape' tuple"]),
        Case(name: "npy x of the wrong rank", setUp: sequences("x.npy", ["--labels", "FILE/y.npy"]) { dir in
                 try write(goodY, dir + "/y.npy"); return npy("<f4", [6], floats([1, 2, 3, 4, 5, 6])) }, status: 1,
             message: ["x: 1 dimension(s)", "expected (N, T, F) or (N, T), found (6,)"]),
        Case(name: "npy labels of another count", setUp: sequences("x.npy", ["--labels", "FILE/y.npy"]) { dir in
                 try write(npy("<i8", [4], int64s([0, 1, 0, 1])), dir + "/y.npy"); return goodX }, status: 1,
             message: ["y.npy: y: shape (4,)", "expected (3,) for a label per sequence or (3, 2) for one per step"]),
        Case(name: "npy NaN label", setUp: sequences("x.npy", ["--labels", "FILE/y.npy"]) { dir in
                 try write(npy("<f4", [3], floats([0.5, .nan, 1])), dir + "/y.npy"); return goodX }, status: 1,
             message: ["y: label 1 is nan", "expected finite labels"]),
        Case(name: "npy infinite feature", setUp: sequences("x.npy", ["--labels", "FILE/y.npy"]) { dir in
                 try write(goodY, dir + "/y.npy"); return npy("<f4", [3, 2, 1], floats([1, 2, 3, .infinity, 5, 6])) }, status: 1,
             message: ["x: element 3 (sequence 1, step 1) is infinite", "NaN for missing"]),
        Case(name: "npy without labels", setUp: sequences("x.npy") { _ in goodX }, status: 64,
             message: ["has no labels", ".npy: --labels FILE"]),
        Case(name: "npy labels flag with a csv", setUp: sequences("d.csv", ["--labels", "FILE/y.npy"]) { _ in Array("s,a,y\n1,2,3\n".utf8) },
             status: 64, message: ["--labels goes with .npy data"]),
        Case(name: "npz not a zip", setUp: sequences("d.npz") { _ in goodX }, status: 1,
             message: ["d.npz: not a .npz archive", "numpy.savez(path, x=..., y=...)"]),
        Case(name: "npz without x", setUp: sequences("d.npz", [], npz(["inputs": goodX, "y": goodY])), status: 1,
             message: ["no array named x", "found arrays inputs, y"]),
        Case(name: "npz damaged member", setUp: sequences("d.npz") { dir in
                 var bytes = try npz(["x": goodX, "y": goodY])(dir)
                 bytes[60] ^= 0xFF  // inside the first member's compressed data
                 return bytes }, status: 1, message: ["cannot be unpacked", "write it again with numpy.savez"]),
        Case(name: "npz lengths out of range", setUp: sequences("d.npz", [], npz(["x": goodX, "y": goodY,
                                                                                 "lengths": npy("<i8", [3], int64s([2, 0, 1]))])),
             status: 1, message: ["lengths: sequence 1 has length 0", "expected 1 … 2 (x's T)"]),
        Case(name: "npz per-step flag with sequence labels", setUp: sequences("d.npz", ["--per-step"], npz(["x": goodX, "y": goodY])),
             status: 64, message: ["--per-step needs labels of shape (N, T)"]),
        // Long-form CSV sequences
        Case(name: "csv empty", setUp: sequences("d.csv", csvFlags) { _ in [] }, status: 1, message: ["d.csv: empty file", "a header row"]),
        Case(name: "csv not UTF-8", setUp: sequences("d.csv", csvFlags) { _ in [0x73, 0x2C, 0xFF, 0xFE, 0x0A] }, status: 1,
             message: ["not UTF-8 text", "Save the file as UTF-8 CSV"]),
        Case(name: "csv ragged row", setUp: sequences("d.csv", csvFlags) { _ in Array("s,a,y\n1,2,0\n1,3\n".utf8) }, status: 1,
             message: ["data row 2 has 2 field(s)", "expected 3, as the header has", "Quote fields that hold commas"]),
        Case(name: "csv missing column", setUp: sequences("d.csv", ["--id", "sid", "--label", "y"]) { _ in Array("s,a,y\n1,2,0\n".utf8) },
             status: 1, message: ["no column 'sid'", "found columns s, a, y", "case-sensitive"]),
        Case(name: "csv not a number", setUp: sequences("d.csv", csvFlags) { _ in Array("s,a,y\n1,2,0\n1,abc,0\n".utf8) }, status: 1,
             message: ["data row 2, column 'a' holds 'abc'", "empty for missing"]),
        Case(name: "csv label changes within a sequence", setUp: sequences("d.csv", csvFlags) { _ in Array("s,a,y\n1,2,0\n1,3,1\n".utf8) },
             status: 1, message: ["sequence '1' changes y from '0' to '1' at data row 2", "Pass --per-step"]),
        Case(name: "csv missing label", setUp: sequences("d.csv", csvFlags) { _ in Array("s,a,y\n1,2,0\n2,3,\n".utf8) }, status: 1,
             message: ["data row 2 has no y", "Label the row"]),
        Case(name: "csv duplicate step", setUp: sequences("d.csv", csvFlags + ["--order", "t"]) { _ in
                 Array("s,t,a,y\n1,0,2,0\n1,0,3,0\n".utf8) }, status: 1, message: ["data rows 1 and 2 of sequence '1' share t = 0"]),
        Case(name: "csv column flag with a .ts", setUp: { f in try ts("1,2:a\n")(f) + ["--id", "s"] }, status: 64,
             message: ["--id names a CSV column"]),
        Case(name: "csv larger than the memory limit", environment: ["RNNKIT_MEMORY_LIMIT": "200"],
             setUp: sequences("d.csv", csvFlags) { _ in Array(("s,a,y\n" + String(repeating: "1,2,0\n", count: 20)).utf8) }, status: 1,
             message: ["reading this 126 bytes file needs about", "Keep only the columns you need"]),
        // Forecasting CSV
        Case(name: "forecast empty file", setUp: forecast(""), status: 1, message: ["d.csv: empty file"]),
        Case(name: "forecast target not a number", setUp: forecast("t,v\n1,2\n2,x\n"), status: 1,
             message: ["data row 2, column 'v' holds 'x'", "a finite number"]),
        Case(name: "forecast missing values", setUp: forecast(series12.replacingOccurrences(of: "4,12", with: "4,").replacingOccurrences(of: "9,27", with: "9,NA")),
             status: 1, message: ["missing values in data row(s) 4, 9 (first in column 'v')", "--missing interpolate", "--missing drop"]),
        Case(name: "forecast column with no value to interpolate", setUp: forecast("t,v\n1,\n2,NA\n3,\n", ["--missing", "interpolate"]),
             status: 1, message: ["column 'v' has no value", "at least one number"]),
        Case(name: "forecast repeated time", setUp: forecast(series12 + "5,1\n", ["--time", "t"]), status: 1,
             message: ["data rows 5 and 13 have the same time '5'", "--group COLUMN"]),
        Case(name: "forecast time neither number nor date", setUp: forecast("t,v\n2024-01-01,1\n2024-01-02,2\nlater,3\n", ["--time", "t"]),
             status: 1, message: ["data row 3, column 't' holds 'later'", "a number or a date"]),
        Case(name: "forecast series too short", setUp: forecast(series12, ["--window", "9"]), status: 1,
             message: ["the series has 12 steps", "at least 13: one training window (10 + horizon 1)", "Shorten --window"]),
        Case(name: "forecast without target", setUp: { f in Array(try forecast(series12)(f).prefix(4)) }, status: 64,
             message: ["give --csv FILE --target COLUMN --window N --horizon H"]),
        Case(name: "forecast eval of an image classifier", setUp: forecast(series12, ["--model", "DATA/model"], verb: "eval"), status: 1,
             message: ["not a forecaster", "rnnkit eval mnist"]),
        Case(name: "forecast predict from too few steps", setUp: { f in
                 let dir = try f.copy(".")
                 let train = try runRNNKit(try forecast(series12, ["--window", "4", "--out", dir + "/fc"])(f))
                 guard train.status == 0 else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: train.stderr]) }
                 return try forecast("t,v\n1,2\n2,3\n3,4\n", ["--model", dir + "/fc"], verb: "predict")(f)
             }, status: 64, message: ["has 3 steps; the model reads 5 (window 4 + 1 to difference)"]),
        // ONNX export
        Case(name: "export of a folder without config.json", setUp: { f in ["export", "onnx", "--model", f.root + "/nothing-here"] }, status: 1,
             message: ["nothing-here/config.json: a checkpoint's config.json not found"]),
        Case(name: "export of a damaged config.json", setUp: { f in
                 let a = try config { $0.replacingOccurrences(of: "\"hiddenSize\"", with: "\"hidden\"") }(f)
                 return ["export", "onnx", "--model", a[3]]
             }, status: 1, message: ["config.json", "hiddenSize"]),
        Case(name: "export with truncated weights", setUp: { f in
                 let d = try f.copy("model")
                 try write(Array(try read(d + "/model.safetensors").prefix(100)), d + "/model.safetensors")
                 return ["export", "onnx", "--model", d]
             }, status: 1, message: ["model.safetensors"]),
        Case(name: "export of a kind not exported", setUp: { f in
                 let a = try config { $0.replacingOccurrences(of: "\"task\" : \"mnist\"", with: "\"task\" : \"speech\"") }(f)
                 return ["export", "onnx", "--model", a[3]]
             }, status: 1, message: ["not a model RNNKit exports", "found \"speech\""]),
        Case(name: "export into a folder that does not exist", setUp: { f in
                 ["export", "onnx", "--model", try f.copy("model"), "--out", f.root + "/no/such/folder/m.onnx"] }, status: 1,
             message: ["m.onnx: cannot be written", "Choose an --out file"]),
        Case(name: "export opset out of range", setUp: { f in ["export", "onnx", "--model", try f.copy("model"), "--opset", "9"] }, status: 64,
             message: ["--opset must be 13–17 (found 9)"]),
        // Sequence pairs, pronunciation dictionaries and encoder–decoder folders
        Case(name: "pairs line without a tab", setUp: pairs(Array("ab\tba\nabc cba\n".utf8)), status: 1,
             message: [".tsv", "line 2 has no tab", "expected source<TAB>target", "'abc cba'", "Separate the source and the target with one tab"]),
        Case(name: "pairs empty side", setUp: pairs(Array("ab\tba\nabc\t  \n".utf8)), status: 1,
             message: ["line 2 has an empty target", "Remove the line or fill in its target"]),
        Case(name: "pairs invalid UTF-8", setUp: pairs(Array("ab\tba\n".utf8) + [0x61, 0x09, 0xC3, 0x28, 0x0A]), status: 1,
             message: ["invalid UTF-8 on line 2, at byte 8 of the file", "bytes c3 28", "iconv"]),
        Case(name: "pairs line of 1 MB", setUp: pairs(Array("ab\tba\n".utf8) + [UInt8](repeating: 0x61, count: 1 << 20) + [0x09, 0x62]), status: 1,
             message: ["line 2 is too long", "at most 65536 bytes a line", "1048578 bytes"]),
        Case(name: "pairs only blank lines", setUp: pairs(Array("\n  \n".utf8)), status: 1, message: ["no pairs", "tab-separated pairs"]),
        Case(name: "pairs too few to hold out", setUp: flags(["train", "seq2seq", "--pairs", "DATA/text/pairs.tsv", "--validation", "7"]), status: 1,
             message: ["too few distinct sources to hold out 7", "found 7", "Hold out fewer with --validation"]),
        Case(name: "lexicon word without phones", setUp: lexicon("HELLO  HH AH0 L OW1\nWORLD\n"), status: 1,
             message: [".dict", "line 2: a word without phones", "Fix or remove the line"]),
        Case(name: "lexicon festival entry unterminated", setUp: lexicon("(\"hello\" nil (((hh ax) 0) ((l ow) 1)))\n(\"world nil (((w er l d) 1)))\n"),
             status: 1, message: ["line 2: unterminated string"]),
        Case(name: "lexicon missing", setUp: flags(["train", "seq2seq", "--preset", "g2p", "--lexicon", "/nonexistent.dict"]), status: 1,
             message: ["/nonexistent.dict: file not found"]),
        Case(name: "translate unseen character", setUp: { f in ["translate", "--model", try f.copy("s2s"), "ab", "ca€b"] }, status: 1,
             message: ["'€' (U+20AC) at token 3 of argument 2", "remove or replace that one"]),
        Case(name: "eval seq2seq unseen character", setUp: { f in
                 let folder = try f.copy("s2s")
                 try write(Array("ab\tba\nxb\tbx\n".utf8), folder + "/test.tsv")
                 return ["eval", "seq2seq", "--model", folder, "--pairs", folder + "/test.tsv"]
             }, status: 1, message: ["'x' (U+78) at token 1 of pair 2 of", "test.tsv"]),
        Case(name: "eval seq2seq on a language model", setUp: { f in ["eval", "seq2seq", "--model", try f.copy("lm"), "--pairs", "x"] }, status: 1,
             message: ["not a sequence-to-sequence model", "Use `rnnkit eval text` for this folder"]),
        Case(name: "translate attention picture unwritable", setUp: { f in
                 ["translate", "--model", try f.copy("s2s"), "--attention-svg", f.root + "/no/such/folder/a.svg", "ab"] }, status: 64,
             message: ["--attention-svg: cannot write", "a.svg"]),
        Case(name: "flag seq2seq simple RNN", setUp: flags(["train", "seq2seq", "--pairs", "x", "--cell", "rnn"]), status: 64,
             message: ["--cell must be lstm or gru for an encoder–decoder (found rnn)"]),
        Case(name: "flag seq2seq preset with pairs", setUp: flags(["train", "seq2seq", "--preset", "g2p", "--pairs", "x"]), status: 64,
             message: ["--preset g2p brings its own data; leave out --pairs"]),
        Case(name: "flag seq2seq unknown attention", setUp: flags(["train", "seq2seq", "--pairs", "x", "--attention", "dot"]), status: 64,
             message: ["'dot'", "bahdanau", "luong", "none"]),
        Case(name: "flag seq2seq validation", setUp: flags(["train", "seq2seq", "--pairs", "x", "--validation", "2.5"]), status: 64,
             message: ["--validation must be a fraction below 1 or a whole count of sources (found 2.5)"]),
        Case(name: "flag seq2seq resume with a new size", setUp: { f in ["train", "seq2seq", "--resume", try f.copy("s2s"), "--hidden", "8"] },
             status: 64, message: ["--hidden cannot change it", "--beam"]),
        Case(name: "flag seq2seq no data", setUp: flags(["train", "seq2seq"]), status: 64,
             message: ["give training pairs with --pairs FILE, a --preset, or --resume DIR"]),
        Case(name: "memory limit not a size", environment: ["RNNKIT_MEMORY_LIMIT": "lots"],
             setUp: flags(["train", "mnist", "--data", "DATA"]), status: 1,
             message: ["RNNKIT_MEMORY_LIMIT: expected a size in bytes such as 500M, 2G", "found 'lots'"]),
        Case(name: "kernel path unknown", environment: ["RNNKIT_ISA": "sse9"],
             setUp: flags(["bench", "--hidden", "4", "--seconds", "0.01"]), status: 1,
             message: ["RNNKIT_ISA: expected avx512, avx2 or portable", "found sse9", "Unset RNNKIT_ISA"]),
        Case(name: "product library unknown", environment: ["RNNKIT_GEMM": "mkl"],
             setUp: flags(["bench", "--hidden", "4", "--seconds", "0.01"]), status: 1,
             message: ["RNNKIT_GEMM: expected blas or onednn", "found mkl", "Unset RNNKIT_GEMM"]),
        Case(name: "product library not installed", environment: ["RNNKIT_GEMM": "onednn", "RNNKIT_ONEDNN_LIBRARY": "libdnnl-none.so"],
             setUp: flags(["bench", "--hidden", "4", "--seconds", "0.01"]), status: 1,
             message: ["RNNKIT_GEMM: expected a library this machine has", "cannot load libdnnl-none.so", "apt-get install libdnnl2"]),
    ]

    @Test(arguments: cases)
    func reportsBadInput(_ bad: Case) throws {
        let fixture = try Fixture.shared()
        let arguments = try bad.setUp(fixture)
        let r = try runRNNKit(arguments, environment: bad.environment)
        #expect(r.status == bad.status, "\(bad.name): \(r.stderr)")
        for part in bad.message { #expect(r.stderr.contains(part), "\(bad.name): expected «\(part)» in: \(r.stderr)") }
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), "\(r.stderr)")
    }
}

extension Array where Element == UInt8 {
    func withPrefix(_ prefix: [UInt8]) -> [UInt8] { prefix + self }
}

/// gzip bytes via the library's own writer (IDX.write with compression), for cases that need a .gz.
func Gzip_compress(_ bytes: [UInt8]) -> [UInt8] {
    let path = NSTemporaryDirectory() + "rnnkit-gz-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: path) }
    let dims = bytes[3]
    var offset = 4, sizes: [Int] = []
    for _ in 0..<Int(dims) {
        sizes.append(bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) })
        offset += 4
    }
    try! IDX.write(IDXArray(dimensions: sizes, bytes: Array(bytes[offset...])), to: path, compressed: true)
    return [UInt8](FileManager.default.contents(atPath: path)!)
}
