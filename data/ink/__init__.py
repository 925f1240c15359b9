"""VNOnDB online handwriting: InkML reading, a parsed corpus, stroke rendering and a text composer.

    from data.ink import load_corpus, InkComposer, InkStyle
    corpus = load_corpus()                      # parses shared/datasets/vnondb-ink once, then a cache
    mask, info = InkComposer(corpus).compose("Số 12/5 Phường 3", corpus.writer_ids[0], 64, rng)
"""
from data.ink.compose import InkComposer, Piece
from data.ink.corpus import InkCorpus, InkDocumentInfo, corpus_from_files, load_corpus
from data.ink.inkml import InkDocument, InkLine, InkWord, WriterInfo, parse_file_name, read_inkml
from data.ink.render import InkStyle, render_line, render_strokes
from data.ink.split import WriterSplit, load_writer_split, split_writers

__all__ = [
    "InkComposer", "InkCorpus", "InkDocument", "InkDocumentInfo", "InkLine", "InkStyle", "InkWord", "Piece",
    "WriterInfo", "WriterSplit", "corpus_from_files", "load_corpus", "load_writer_split", "parse_file_name",
    "read_inkml", "render_line", "render_strokes", "split_writers",
]
