# The CPU benchmarks' recipe names and the LatentKit flags each stands for (the table of Benchmarks/pytorch_reference.py),
# sourced by Benchmarks/cpu_vs_pytorch.sh and Benchmarks/profile_step.sh. flags_of NAME prints the flags, or fails for
# a name it does not know.
flags_of() {
    case $1 in
        gaussian) echo "" ;;
        logit-normal) echo "--latent logit-normal" ;;
        concrete) echo "--latent concrete --categorical 20x10" ;;
        dirichlet-laplace) echo "--latent dirichlet" ;;
        dirichlet-exact) echo "--latent dirichlet --dirichlet-approx exact" ;;
        batch-norm) echo "--batch-norm" ;;
        iwae5) echo "--iw-samples 5" ;;
        *) return 1 ;;
    esac
}
