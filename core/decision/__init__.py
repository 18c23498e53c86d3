"""Decision: the questionnaire, the evidence, the memo, the economics charts."""
