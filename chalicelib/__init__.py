"""tintcam: everything the Lambda function runs, one module per job."""

__version__ = "0.1.0"
