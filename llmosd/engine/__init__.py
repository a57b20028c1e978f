"""Decision engines: the deterministic rules engine and the local-LLM engine.

Both walk the same incidents and options (`candidates.py`) under the same
policy; they differ only in who reads free text (`textclass.py`) and who
breaks ties between legal options.
"""
