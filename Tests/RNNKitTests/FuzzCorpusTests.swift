import Foundation
import RNNKit
import Testing

/// Replays the fuzz targets' committed corpus (Fuzz/Corpus) and every crash ever found
/// (Fuzz/Crashes) through the same readers, with the same checks as the targets in Fuzz/Sources:
/// each input is read or refused with a `DataError` that names its source; nothing traps.
@Suite struct FuzzCorpusTests {
    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz").standardizedFileURL

    /// The files of one target's corpus and crash folders.
    static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        var found: [(String, [UInt8])] = []
        for folder in ["Corpus", "Crashes"] {
            let dir = fuzz.appendingPathComponent(folder).appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                found.append(("\(folder)/\(target)/\(name)", [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))))
            }
        }
        return found
    }

    /// A refusal must be a `DataError` naming the input's path.
    func checkRefusal(_ error: DataError, _ path: String) {
        #expect(error.description.hasPrefix(path) || error.description.contains(path), "\(error)")
    }

    @Test func idx() throws {
        let inputs = try Self.inputs("FuzzIDX")
        #expect(inputs.count >= 5)
        var decoded = 0
        for (name, bytes) in inputs {
            for path in [name, name + ".gz"] {
                do {
                    let array = try IDX.decode(bytes, path: path)
                    #expect(array.dimensions.reduce(1, *) == array.bytes.count, "\(path)")
                    decoded += 1
                } catch { checkRefusal(error, path) }
            }
        }
        #expect(decoded >= 5, "the seed files are valid IDX")
    }

    @Test func safeTensors() throws {
        let inputs = try Self.inputs("FuzzSafeTensors")
        #expect(inputs.count >= 6)
        var decoded = 0
        for (name, bytes) in inputs {
            do {
                _ = try SafeTensors.decode(bytes, path: name, as: Double.self)
                let (tensors, metadata) = try SafeTensors.decode(bytes, path: name, as: Float.self)
                let again = try SafeTensors.decode(SafeTensors.encode(tensors, metadata: metadata), path: "again", as: Float.self)
                #expect(again.metadata == metadata)
                #expect(again.tensors.keys == tensors.keys)
                for (name, t) in tensors {  // bit for bit: fuzzed data holds NaNs, which == would call different
                    #expect(again.tensors[name]?.shape == t.shape && again.tensors[name]?.scalars.map(\.bitPattern) == t.scalars.map(\.bitPattern),
                            "\(name)")
                }
                decoded += 1
            } catch { checkRefusal(error, name) }
        }
        #expect(decoded >= 6, "the seed files are valid safetensors")
    }

    @Test func text() throws {
        let inputs = try Self.inputs("FuzzText")
        #expect(inputs.count >= 4)
        for (name, bytes) in inputs {
            do {
                let text = try TextCorpus.decode(bytes, path: name)
                #expect(Array(text.utf8) == bytes)
                let stripped = TextCorpus.removingANSIEscapes(text)
                if stripped.isEmpty { continue }
                let vocabulary = Vocabulary(text: stripped)
                #expect(vocabulary.decode(try vocabulary.encode(stripped)) == stripped, "\(name)")
            } catch let error as DataError { checkRefusal(error, name) }
        }
    }

    @Test func ts() throws {
        let inputs = try Self.inputs("FuzzTS")
        #expect(inputs.count >= 5)
        var parsed = 0
        for (name, bytes) in inputs {
            do {
                let data = try TSFile.parse(bytes, path: name)
                #expect(data.offsets.last! * data.features == data.values.count, "\(name)")
                #expect(data.values.allSatisfy { $0.isFinite || $0.isNaN }, "\(name)")
                _ = data.examples(0..<data.count)
                parsed += 1
            } catch { checkRefusal(error, name) }
        }
        #expect(parsed >= 4)
    }

    @Test func numPy() throws {
        let inputs = try Self.inputs("FuzzNumPy")
        #expect(inputs.count >= 8)
        var sequences = 0
        for (name, bytes) in inputs {
            do {
                let arrays = bytes.starts(with: [0x50, 0x4B]) ? try NumPy.readArchive(path: Self.fuzz.appendingPathComponent(name).path)
                                                              : ["x": try NumPy.parse(bytes, path: name)]
                for array in arrays.values {
                    switch array.elements {
                    case let .floats(v): #expect(v.count == array.count, "\(name)")
                    case let .integers(v): #expect(v.count == array.count, "\(name)")
                    case let .strings(v): #expect(v.count == array.count, "\(name)")
                    }
                }
                guard let x = arrays["x"] else { continue }
                let data = try SequenceDataset(numPy: x, labels: arrays["y"], lengths: arrays["lengths"], path: name)
                #expect(data.offsets.last! * data.features == data.values.count, "\(name)")
                _ = data.examples(0..<data.count)
                sequences += 1
            } catch { checkRefusal(error, name) }
        }
        #expect(sequences >= 4)
    }

    @Test func longFormCSV() throws {
        let inputs = try Self.inputs("FuzzCSV")
        #expect(inputs.count >= 4)
        var read = 0
        for (name, bytes) in inputs {
            do {
                let table = try CSVTable.parse(bytes, path: name, columns: nil)
                #expect(table.columns.values.allSatisfy { $0.count == table.rowCount }, "\(name)")
                guard table.header.count >= 2 else { continue }
                for perStep in [false, true] {
                    do {
                        let (data, ids, _) = try SequenceDataset.longForm(
                            table, columns: LongFormColumns(id: table.header.first, label: table.header.last), perStep: perStep,
                            objective: nil, path: name)
                        #expect(ids.count == data.count && data.offsets.last! == table.rowCount, "\(name)")
                        _ = data.examples(0..<data.count)
                        read += 1
                    } catch { checkRefusal(error, name) }
                }
            } catch { checkRefusal(error, name) }
        }
        #expect(read >= 4)
    }

    @Test func forecastCSV() throws {
        let inputs = try Self.inputs("FuzzForecast")
        #expect(inputs.count >= 4)
        var read = 0
        for (name, bytes) in inputs {
            do {
                let table = try CSVTable.parse(bytes, path: name, columns: nil)
                guard table.header.count >= 2 else { continue }
                for policy in [nil, MissingValuePolicy.interpolate, .drop] {
                    let setup = ForecastSetup(targets: [table.header[1]], time: table.header[0], group: table.header.count > 2 ? table.header[2] : nil,
                                              window: 2, horizon: 1, mode: .difference, missing: policy, test: 1, validation: 0)
                    do {
                        let series = try ForecastSeries.read(table, setup: setup, path: name)
                        #expect(series.allSatisfy { $0.values.count == $0.steps && !$0.values.contains { $0.isNaN } }, "\(name)")
                        let problem = try ForecastProblem(series: series, setup: setup, path: name)
                        #expect(problem.dataset(problem.origins(.train)).count == problem.origins(.train).count, "\(name)")
                        read += 1
                    } catch { checkRefusal(error, name) }
                }
            } catch { checkRefusal(error, name) }
        }
        #expect(read >= 4)
    }

    @Test func pairsFiles() throws {
        let inputs = try Self.inputs("FuzzPairs")
        #expect(inputs.count >= 4)
        var read = 0
        for (name, bytes) in inputs {
            for (source, target) in [(TokenUnit.chars, TokenUnit.chars), (.words, .words)] {
                do {
                    let pairs = try PairsFile.parse(bytes, path: name, source: source, target: target)
                    #expect(pairs.sources.allSatisfy { !$0.isEmpty } && pairs.targets.allSatisfy { !$0.isEmpty }, "\(name)")
                    let split = pairs.split(validation: 1, test: 1, seed: 0)
                    #expect(split.train.count + split.validation.count + split.test.count == pairs.count, "\(name)")
                    read += 1
                } catch { checkRefusal(error, name) }
            }
        }
        #expect(read >= 8, "the seed files are valid pairs files")
    }

    @Test func lexicons() throws {
        let inputs = try Self.inputs("FuzzLexicon")
        #expect(inputs.count >= 4)
        var read = 0
        for (name, bytes) in inputs {
            do {
                let entries = try Lexicon.parse(bytes, path: name)
                #expect(entries.allSatisfy { !$0.phones.isEmpty && $0.phones.allSatisfy { $0 == $0.lowercased() } }, "\(name)")
                read += 1
            } catch { checkRefusal(error, name) }
        }
        #expect(read >= 4, "the seed files are valid dictionaries")
    }

    /// Each input is the config.json of Fuzz/Folders' classifier and language model in turn.
    @Test func checkpointConfig() throws {
        let inputs = try Self.inputs("FuzzCheckpoint")
        #expect(inputs.count >= 2)
        let work = NSTemporaryDirectory() + "rnnkit-corpus-" + UUID().uuidString
        try FileManager.default.copyItem(atPath: Self.fuzz.appendingPathComponent("Folders").path, toPath: work)
        defer { try? FileManager.default.removeItem(atPath: work) }
        var loaded = 0
        for (_, bytes) in inputs {
            for folder in ["classifier", "charlm"].map({ work + "/" + $0 }) {
                try Data(bytes).write(to: URL(fileURLWithPath: folder + "/config.json"))
                for resume in [false, true] {
                    do {
                        _ = try ClassifierCheckpoint.load(from: folder, forResume: resume)
                        loaded += 1
                    } catch { checkRefusal(error, folder) }
                    do {
                        _ = try CharLMCheckpoint.load(from: folder, forResume: resume)
                        loaded += 1
                    } catch { checkRefusal(error, folder) }
                }
            }
        }
        #expect(loaded >= 4, "each seed config loads its own folder, for evaluation and resuming")
    }
}
