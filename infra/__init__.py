"""Infrastructure as code: the CloudFormation templates and the tools that apply them."""
