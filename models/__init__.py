"""The detector: features from a spender's past, an IsolationForest with explicit evidence,
explanations in plain words, and persistence. Nothing here touches HTTP or the database."""
