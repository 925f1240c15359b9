"""Models: the line recognizer (``models.recognition``) and the page layout detector (``models.detection``)."""
