"""In-graph text clean-up shared by training pipelines and exports."""

from __future__ import annotations

import tensorflow as tf


def clean_text(text):
    """Makes any string tensor safe and tidy to tokenize, in the graph.

    - bytes that are not valid UTF-8 become U+FFFD (nothing raises later);
    - HTML line breaks (`<br />`, as in IMDB reviews) become spaces;
    - runs of whitespace become one space, and the ends are stripped
      (SST-2's rows end with a space).

    Running it in the training pipeline and in the export keeps the two
    tokenizing the same text.

    Args:
        text: A string tensor of any shape.

    Returns:
        A string tensor of the same shape.

    >>> clean_text(tf.constant([b"Great!<br /><br />Really \\xff "]))
    <tf.Tensor: ... numpy=array([b'Great! Really \\xef\\xbf\\xbd'], dtype=object)>
    """
    text = tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    text = tf.strings.regex_replace(text, r"(?i)<br\s*/?>", " ")
    text = tf.strings.regex_replace(text, r"\s+", " ")
    return tf.strings.strip(text)
